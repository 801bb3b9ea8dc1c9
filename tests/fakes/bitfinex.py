"""A local fake of Bitfinex's public ticker: a real HTTP server the real adapter talks to."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI, Request, Response


@dataclass
class FakeBitfinex:
    # the raw JSON body to answer with, so tests control decimals exactly
    body: str = "[16808,24.1,16809,55.3,-26,-0.0015,16809,147.2,16884,16769]"
    status: int = 200
    url: str = ""
    calls: int = 0

    def set_last(self, last: str) -> None:
        self.body = f"[1,1,1,1,0,0,{last},1,1,1]"
        self.status = 200

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v2/ticker/tBTCUSD")
        async def ticker(request: Request):
            self.calls += 1
            assert request.headers.get("accept") == "application/json"
            return Response(self.body, status_code=self.status, media_type="application/json")

        return app


@asynccontextmanager
async def running_fake_bitfinex():
    fake = FakeBitfinex()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.02)
    fake.url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
