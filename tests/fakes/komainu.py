"""A local fake of Komainu's REST API: a real HTTP server the real adapter talks to.

``POST /v1/auth/token`` hands out a bearer (counted, so tests see the cache); every other call must
carry it and a valid request signature: ``X-Signature`` (base64 DER ECDSA-P256-SHA256 by the
client's key, checked against its public key) over ``host,method,path?query,sha256=<b64 body
digest>,sha256=<b64 token digest>,X-Timestamp``. ``sign(body, ts)`` makes the webhook headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from tests.fakes.serve import serving


def new_p256_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@dataclass
class FakeKomainu:
    api_key: str = "komainu-user"
    api_secret: str = "komainu-secret"
    webhook_secret: str = "komainu-webhook-secret"
    secret_key: str = field(default_factory=new_p256_pem)  # the client's signing key (its config)
    expires_in: int = 3600
    url: str = ""
    wallets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens_issued: int = 0
    signed_calls: int = 0
    calls: list[str] = field(default_factory=list)

    def add_wallet(self, label: str, available: str = "0", wallet_id: str | None = None) -> str:
        wallet_id = wallet_id or str(uuid.uuid4())
        self.wallets[wallet_id] = {"id": wallet_id, "label": label, "asset": "BTC", "address": f"tb1q{wallet_id[:20]}",
                                   "balance": {"available": available,
                                               "balance_updated_at": "2026-01-15T10:00:00Z"}}
        return wallet_id

    def revoke_sessions(self) -> None:
        """Komainu ends every session: the bearers issued so far are refused from now on."""
        self._tokens.clear()

    def set_available(self, wallet_id: str, available: str) -> None:
        self.wallets[wallet_id]["balance"]["available"] = available

    def notice(self, wallet_id: str, **extra: Any) -> bytes:
        return json.dumps({"event_type": "BALANCE_UPDATED", "entity": "WALLET", "entity_id": wallet_id,
                           **extra}).encode()

    def sign(self, body: bytes, timestamp: str | None = None, secret: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time() * 1000))
        digest = hmac.new((secret or self.webhook_secret).encode(), timestamp.encode() + b"." + body,
                          hashlib.sha256).hexdigest()
        return {"x-komainu-signature": digest, "x-komainu-timestamp": timestamp}

    def _check_signature(self, request: Request, body: bytes, token: str) -> bool:
        public = serialization.load_pem_private_key(self.secret_key.encode(), None).public_key()
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        message = ",".join([request.url.hostname or "", request.method.lower(), target, f"sha256={_b64_sha256(body)}",
                            f"sha256={_b64_sha256(token.encode())}", request.headers.get("x-timestamp", "")])
        try:
            public.verify(base64.b64decode(request.headers.get("x-signature", "")), message.encode(),
                          ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def app(self) -> FastAPI:
        app = FastAPI()
        self._tokens: set[str] = set()

        @app.middleware("http")
        async def auth(request: Request, call_next):
            self.calls.append(f"{request.method} {request.url.path}")
            if request.url.path == "/v1/auth/token":
                return await call_next(request)
            header = request.headers.get("authorization", "")
            token = header.removeprefix("Bearer ")
            if token not in self._tokens:
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            if not self._check_signature(request, await request.body(), token):
                return JSONResponse({"error": "bad signature"}, status_code=401)
            self.signed_calls += 1
            return await call_next(request)

        @app.post("/v1/auth/token")
        async def token(request: Request):
            body = await request.json()
            if body != {"api_user": self.api_key, "api_secret": self.api_secret}:
                return JSONResponse({"error": "bad credentials"}, status_code=401)
            self.tokens_issued += 1
            issued = uuid.uuid4().hex
            self._tokens.add(issued)
            return {"access_token": issued, "expires_in": self.expires_in}

        @app.get("/v1/custody/wallets")
        async def wallets(limit: int, offset: int):
            items = list(self.wallets.values())
            page = items[offset * limit:(offset + 1) * limit]
            return {"data": page, "has_next": (offset + 1) * limit < len(items)}

        @app.get("/v1/custody/wallets/{wallet_id}")
        async def wallet(wallet_id: str):
            if wallet_id not in self.wallets:
                raise HTTPException(404)
            return self.wallets[wallet_id]

        return app


@asynccontextmanager
async def running_fake_komainu(**kwargs: Any):
    fake = FakeKomainu(**kwargs)
    async with serving(fake.app()) as url:
        fake.url = url
        yield fake
