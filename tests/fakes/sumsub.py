"""A local fake of SumSub's API: a real HTTP server that checks the request signature.

Requests with a missing or wrong `X-App-Access-Sig` get 401, so a test passing through it proves
the adapter signs exactly what it sends.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class FakeSumSub:
    token: str
    secret: str
    url: str = ""
    requests: list[dict] = field(default_factory=list)
    applicants: dict[str, str] = field(default_factory=dict)  # externalUserId -> applicant id
    fail_with: int | None = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def check_signature(request: Request, call_next):
            body = await request.body()
            raw_path = request.scope["raw_path"].decode()
            query = request.scope["query_string"].decode()
            path_with_query = raw_path + (f"?{query}" if query or raw_path.endswith("?") else "")
            ts = request.headers.get("x-app-access-ts", "")
            message = ts.encode() + request.method.encode() + path_with_query.encode() + body
            expected = hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
            ok = (request.headers.get("x-app-token") == self.token
                  and hmac.compare_digest(expected, request.headers.get("x-app-access-sig", "")))
            self.requests.append({"method": request.method, "path": path_with_query, "body": body,
                                  "signed": ok})
            if not ok:
                return JSONResponse({"description": "Request signature mismatch", "code": 401}, 401)
            if self.fail_with:
                return JSONResponse({"description": "fake failure", "code": self.fail_with}, self.fail_with)
            return await call_next(request)

        @app.post("/resources/applicants")
        async def create_applicant(request: Request, levelName: str):  # noqa: N803
            data = await request.json()
            ext = data["externalUserId"]
            if ext in self.applicants:
                return JSONResponse({"description": "Applicant already exists", "code": 409}, 409)
            self.applicants[ext] = f"app-{len(self.applicants) + 1:04d}"
            return {"id": self.applicants[ext], "externalUserId": ext, "levelName": levelName}

        @app.get("/resources/applicants/-;externalUserId={ext}/one")
        async def get_applicant(ext: str):
            return {"id": self.applicants[ext], "externalUserId": ext}

        @app.post("/resources/sdkIntegrations/levels/{level}/websdkLink")
        async def link(level: str, externalUserId: str, request: Request):  # noqa: N803
            data = await request.json()
            return {"url": f"https://in.sumsub.test/websdk/p/{level}/{externalUserId}?ttl={data['ttlInSecs']}"}

        return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def running_fake_sumsub(token: str = "app-token", secret: str = "app-secret"):
    fake = FakeSumSub(token, secret)
    port = _free_port()
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
