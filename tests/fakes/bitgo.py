"""A local fake of BitGo's REST API: a real HTTP server the real adapter talks to.

It checks the bearer token on every call, keeps the keys, wallets, webhooks and transfers it was
given, and answers balances the test sets. ``sign(body)`` makes the ``x-signature-sha256`` header a
BitGo webhook carries (HMAC-SHA256 with the enterprise webhook secret)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from tests.fakes.serve import serving


@dataclass
class FakeBitGo:
    token: str = "bitgo-token"
    enterprise_id: str = "ent-1"
    webhook_secret: str = "bitgo-webhook-secret"
    url: str = ""
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    wallets: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> {label, coin, keys, address, ...}
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    transfers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail_status: int | None = None  # answer every call with this status (e.g. 503)

    def set_balance(self, wallet_id: str, sats: int) -> None:
        self.wallets[wallet_id]["confirmedBalance"] = sats

    def set_transfer(self, wallet_id: str, transfer_id: str, state: str = "confirmed",
                     confirmed_time: str | None = "2026-01-15T10:00:00.000Z") -> None:
        self.transfers[(wallet_id, transfer_id)] = {"id": transfer_id, "state": state, "confirmedTime": confirmed_time}

    def notice(self, wallet_id: str, transfer_id: str, *, state: str = "confirmed", simulation: bool = False,
               coin: str = "tbtc4") -> bytes:
        return json.dumps({"hash": "ab" * 32, "transfer": transfer_id, "wallet": wallet_id, "coin": coin,
                           "type": "transfer", "state": state, "transferType": "receive",
                           "simulation": simulation}).encode()

    def sign(self, body: bytes, secret: str | None = None) -> dict[str, str]:
        digest = hmac.new((secret or self.webhook_secret).encode(), body, hashlib.sha256).hexdigest()
        return {"x-signature-sha256": digest}

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def auth(request: Request, call_next):
            self.calls.append(f"{request.method} {request.url.path}")
            if self.fail_status:
                from fastapi.responses import JSONResponse
                return JSONResponse({"error": "unavailable"}, status_code=self.fail_status)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                from fastapi.responses import JSONResponse
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return await call_next(request)

        @app.get("/api/v2/wallets/count")
        async def count():
            return {"count": len(self.wallets)}

        @app.get("/api/v2/enterprise/{enterprise_id}")
        async def enterprise(enterprise_id: str):
            if enterprise_id != self.enterprise_id:
                raise HTTPException(404)
            return {"id": enterprise_id, "name": "Lana"}

        @app.post("/api/v2/{coin}/key")
        async def key(coin: str, request: Request):
            body = await request.json()
            key_id = uuid.uuid4().hex
            if body.get("source") in ("user", "backup"):
                assert body["pub"][1:4] == "pub" and body["encryptedPrv"], "user/backup keys carry pub + encryptedPrv"
            elif body.get("source") == "bitgo":
                assert body.get("enterprise") == self.enterprise_id
            else:
                raise HTTPException(400)
            self.keys[key_id] = {"coin": coin, **body}
            return {"id": key_id, "pub": body.get("pub", "xpub-bitgo"), "source": body["source"]}

        @app.post("/api/v2/{coin}/wallet/add")
        async def add(coin: str, request: Request):
            body = await request.json()
            assert body["m"] == 2 and body["n"] == 3 and len(body["keys"]) == 3
            assert all(k in self.keys for k in body["keys"]) and body["enterprise"] == self.enterprise_id
            wallet_id = uuid.uuid4().hex[:24]
            address = f"tb1q{wallet_id}"
            self.wallets[wallet_id] = {"id": wallet_id, "label": body["label"], "coin": coin, "keys": body["keys"],
                                       "receiveAddress": {"address": address}, "confirmedBalance": 0}
            return self.wallets[wallet_id]

        @app.post("/api/v2/{coin}/wallet/{wallet_id}/webhooks")
        async def webhook(coin: str, wallet_id: str, request: Request):
            if wallet_id not in self.wallets:
                raise HTTPException(404)
            body = await request.json()
            self.webhooks.append({"wallet": wallet_id, **body})
            return {"id": uuid.uuid4().hex, **body}

        @app.get("/api/v2/{coin}/wallet/{wallet_id}/transfer/{transfer_id}")
        async def transfer(coin: str, wallet_id: str, transfer_id: str):
            found = self.transfers.get((wallet_id, transfer_id))
            if found is None:
                raise HTTPException(404)
            return found

        @app.get("/api/v2/wallet/{wallet_id}")
        async def wallet(wallet_id: str):
            if wallet_id not in self.wallets:
                raise HTTPException(404)
            return self.wallets[wallet_id]

        return app


@asynccontextmanager
async def running_fake_bitgo(**kwargs: Any):
    fake = FakeBitGo(**kwargs)
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake
