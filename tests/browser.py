"""Headless Chromium for page tests: Debian's ``/usr/bin/chromium`` (never a downloaded build),
driven over the DevTools protocol with ``websockets`` (a dozen lines of protocol: open a page,
navigate, evaluate an expression). No Playwright, no npm.

``.ci/run`` installs the ``chromium`` package; tests skip with a reason where it is missing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import socket
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
import websockets

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--window-size=1400,1600", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"]


class Page:
    def __init__(self, ws, session_id: str) -> None:
        self._ws, self._session, self._ids = ws, session_id, itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._events: asyncio.Queue = asyncio.Queue()

    async def send(self, method: str, params: dict | None = None, *, session: bool = True) -> dict:
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        fut = asyncio.get_running_loop().create_future()
        self._waiting[msg_id] = fut
        await self._ws.send(json.dumps(msg))
        return await asyncio.wait_for(fut, timeout=30)

    def _dispatch(self, msg: dict) -> None:
        fut = self._waiting.pop(msg.get("id"), None) if "id" in msg else None
        if fut is not None and not fut.done():
            if "error" in msg:
                fut.set_exception(RuntimeError(f"CDP error: {msg['error']}"))
            else:
                fut.set_result(msg.get("result", {}))
        elif "method" in msg:
            self._events.put_nowait(msg)

    async def goto(self, url: str) -> None:
        """Navigate and wait for the load event (redirects followed)."""
        while not self._events.empty():
            self._events.get_nowait()
        await self.send("Page.navigate", {"url": url})
        while True:
            event = await asyncio.wait_for(self._events.get(), timeout=30)
            if event.get("method") == "Page.loadEventFired":
                return

    async def click_and_wait(self, selector: str) -> None:
        """Click the element and wait for the page it leads to (a form's answer) to load."""
        while not self._events.empty():
            self._events.get_nowait()
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
        while True:
            event = await asyncio.wait_for(self._events.get(), timeout=30)
            if event.get("method") == "Page.loadEventFired":
                return

    async def screenshot(self) -> bytes:
        import base64

        return base64.b64decode((await self.send("Page.captureScreenshot", {"format": "png"}))["data"])

    async def evaluate(self, expression: str) -> Any:
        """The expression's JSON value (an exception in the page raises here)."""
        result = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"page exception: {result['exceptionDetails']}")
        return result["result"].get("value")


@asynccontextmanager
async def chromium_page():
    """One headless Chromium with one page; everything torn down afterwards."""
    profile = tempfile.mkdtemp(prefix="lana-chromium-")
    proc = await asyncio.create_subprocess_exec(str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank",
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    reader: asyncio.Task | None = None
    try:
        ws_url = None
        while ws_url is None:
            line = await asyncio.wait_for(proc.stderr.readline(), timeout=30)
            if not line:
                raise RuntimeError("chromium exited before its DevTools endpoint was up")
            found = re.search(rb"DevTools listening on (ws://\S+)", line)
            ws_url = found and found.group(1).decode()
        drain = asyncio.create_task(_drain(proc.stderr))
        async with websockets.connect(ws_url, max_size=None) as ws:
            page = Page(ws, "")

            async def read() -> None:
                async for raw in ws:
                    page._dispatch(json.loads(raw))

            reader = asyncio.create_task(read())
            target = await page.send("Target.createTarget", {"url": "about:blank"}, session=False)
            attached = await page.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                                       session=False)
            page._session = attached["sessionId"]
            await page.send("Page.enable")
            yield page
            reader.cancel()
        drain.cancel()
    finally:
        if reader is not None:
            reader.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


def listening_socket() -> socket.socket:
    """A socket bound to a free local port (serve the app on it with :func:`serving`)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@asynccontextmanager
async def serving(app, sock: socket.socket):
    """The app served over real HTTP by uvicorn on ``sock``, in this event loop (its lifespan is the
    caller's: the test stack already runs it)."""
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
