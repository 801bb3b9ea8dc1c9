"""Komainu adapter (custody-price-reports.md §1.1, §1.3, §1.6, §2.2).

* Auth: a bearer from ``POST v1/auth/token {api_user, api_secret}`` (``{access_token, expires_in}``),
  cached per (URL, API user) until 30 s before it expires (a 401 on a cached bearer: a new one and
  one more try; a 401 on a new one is a refusal); then every request is signed with the config's P-256 key:
  ``X-Timestamp`` = ms since the epoch, ``X-Signature`` = base64 DER ECDSA-SHA256 over
  ``host,<lowercase method>,<path?query>,sha256=<b64 SHA-256(body)>,sha256=<b64 SHA-256(token)>,<timestamp>``.
* ``verify_client``: list the wallets. Lists page with ``limit=200&offset=<page index>`` while
  ``has_next``.
* ``initialize_wallet``: §8 #5 Spec rule, a distinct wallet per facility. Komainu wallets are opened
  by the operator in Komainu's console, labelled with the facility's label (``CF <facility id>``);
  the adapter finds the wallet with that label. None yet ⇒ a transient provider error, so the
  approval's wallet step retries until the operator has opened it. Network: testnet3 on the testing
  instance (Komainu's demo), else mainnet.
* Webhook: ``x-komainu-signature`` = hex HMAC-SHA256(``webhook_secret``, timestamp + ``.`` + raw body),
  constant-time compare; plus a freshness window on ``x-komainu-timestamp`` (seconds or ms since the
  epoch, ``custody_komainu_webhook_tolerance_s``, default 5 min) so a captured notice cannot be
  replayed later. Body ``{event_type: "BALANCE_UPDATED", entity: "WALLET", entity_id}`` only.
  ``event_id`` = ``komainu:<body id>`` when the body carries one, else ``komainu:<signature>``
  (the signature covers timestamp and body: a redelivery of the same notice has the same one).
* ``current_balance``: ``GET v1/custody/wallets/{entity_id}``: ``balance.available`` (BTC decimal
  string → sats exactly, ``btc_to_sats``: 9 decimals ⇒ ``PrecisionLoss``), ``changed_at`` =
  ``balance.balance_updated_at`` or now, external id = the returned ``id``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from activities.custody.http import (
    checked,
    deliver,
    header,
    hex_equal,
    json_of,
    make_http,
    send,
    webhook_json,
)
from domain.custody.config import CustodianConfigInvalid, KomainuConfig
from domain.custody.model import (
    CustodianProviderError,
    InitializedWallet,
    Network,
    Provider,
    WalletBalance,
    WebhookNotice,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
    btc_to_sats,
)

PRODUCTION_URL = "https://api.komainu.io"
TESTING_URL = "https://api-demo.komainu.io"
SIGNATURE_HEADER = "x-komainu-signature"
TIMESTAMP_HEADER = "x-komainu-timestamp"
PAGE_LIMIT = 200
TOKEN_MARGIN_S = 30
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}  # (base URL, sha256 of api user) -> (bearer, valid until)


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def signing_string(host: str, method: str, path_and_query: str, body: bytes, token: str, timestamp_ms: int) -> bytes:
    """What the request signature covers (§1.3)."""
    return ",".join([host, method.lower(), path_and_query, f"sha256={b64_sha256(body)}",
                     f"sha256={b64_sha256(token.encode())}", str(timestamp_ms)]).encode()


def load_signing_key(pem: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CustodianConfigInvalid("komainu secret_key is not an unencrypted PKCS#8 PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise CustodianConfigInvalid("komainu secret_key must be a P-256 (secp256r1) key")
    return key


class KomainuClient:
    provider = Provider.KOMAINU

    def __init__(self, config: KomainuConfig, base_url: str | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None, webhook_tolerance_s: float = 300.0,
                 clock=lambda: datetime.now(UTC), monotonic=time.monotonic) -> None:
        self.config = config
        self._key = load_signing_key(config.secret_key.get_secret_value())
        self._base_url = base_url or (TESTING_URL if config.testing_instance else PRODUCTION_URL)
        self._transport = transport
        self._tolerance = timedelta(seconds=webhook_tolerance_s)
        self._clock, self._monotonic = clock, monotonic
        # the bearer is cached per (URL, API user) for the process, whichever client instance asks
        self._token_key = (self._base_url, hashlib.sha256(config.api_key.get_secret_value().encode()).hexdigest())

    def __repr__(self) -> str:
        return f"KomainuClient(testing_instance={self.config.testing_instance!r})"

    def _client(self) -> httpx.AsyncClient:
        return make_http(self._base_url, self._transport, headers={"accept": "application/json"})

    async def _bearer(self, http: httpx.AsyncClient) -> tuple[str, bool]:
        """The bearer for these credentials and whether it was minted by this call (not cached)."""
        cached = _TOKENS.get(self._token_key)
        if cached is not None and self._monotonic() < cached[1]:
            return cached[0], False
        request = http.build_request("POST", "v1/auth/token", json={
            "api_user": self.config.api_key.get_secret_value(),
            "api_secret": self.config.api_secret.get_secret_value()})
        answer = json_of(await send(http, "komainu", request), "komainu")
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise CustodianProviderError("komainu auth/token answered no access_token", transient=False,
                                         provider="komainu")
        expires_in = answer.get("expires_in", 0)
        _TOKENS[self._token_key] = (token, self._monotonic() + max(0, int(expires_in) - TOKEN_MARGIN_S))
        return token, True

    def forget_token(self) -> None:
        _TOKENS.pop(self._token_key, None)

    async def _get(self, http: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            token, fresh = await self._bearer(http)
            response = await deliver(http, "komainu", self._signed(http, path, params, token))
            if response.status_code == 401 and not fresh:
                # a cached bearer Komainu no longer honours (revoked, or its session ended before
                # the expiry it announced): forget it and sign once more with a new one
                self.forget_token()
                token, _ = await self._bearer(http)
                response = await deliver(http, "komainu", self._signed(http, path, params, token))
            return json_of(checked(response, "komainu"), "komainu")
        except CustodianProviderError:
            self.forget_token()  # the next attempt asks for a new bearer
            raise

    def _signed(self, http: httpx.AsyncClient, path: str, params: dict[str, Any] | None, token: str) -> httpx.Request:
        request = http.build_request("GET", path, params=params)
        timestamp_ms = int(self._clock().timestamp() * 1000)
        target = request.url.raw_path.decode()
        message = signing_string(request.url.host, request.method, target, request.content, token, timestamp_ms)
        signature = self._key.sign(message, ec.ECDSA(hashes.SHA256()))
        request.headers["authorization"] = f"Bearer {token}"
        request.headers["x-timestamp"] = str(timestamp_ms)
        request.headers["x-signature"] = base64.b64encode(signature).decode()
        return request

    async def list_wallets(self) -> list[dict[str, Any]]:
        wallets: list[dict[str, Any]] = []
        page = 0
        async with self._client() as http:
            while True:
                answer = await self._get(http, "v1/custody/wallets", {"limit": PAGE_LIMIT, "offset": page})
                if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
                    raise CustodianProviderError("komainu wallet list has no data", transient=False,
                                                 provider="komainu")
                wallets.extend(w for w in answer["data"] if isinstance(w, dict))
                if not answer.get("has_next"):
                    return wallets
                page += 1

    async def verify_client(self) -> None:
        async with self._client() as http:
            await self._get(http, "v1/custody/wallets", {"limit": PAGE_LIMIT, "offset": 0})

    async def initialize_wallet(self, label: str, receive_index: int | None) -> InitializedWallet:
        matches = [w for w in await self.list_wallets() if w.get("label") == label]
        if not matches:
            raise CustodianProviderError(f"no Komainu wallet labelled {label!r} yet: open it in Komainu",
                                         transient=True, provider="komainu")
        wallet = matches[0]
        if not wallet.get("id") or not wallet.get("address"):
            raise CustodianProviderError("komainu wallet without id or address", transient=False, provider="komainu")
        return InitializedWallet(
            external_wallet_id=str(wallet["id"]), address=str(wallet["address"]),
            network=Network.TESTNET3 if self.config.testing_instance else Network.MAINNET,
            custodian_response={k: wallet[k] for k in ("id", "address", "label", "asset") if k in wallet})

    async def fetch_wallet_balance(self, external_wallet_id: str, address: str) -> None:
        return None  # Komainu notifies (webhooks); it is never polled

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        presented, timestamp = header(headers, SIGNATURE_HEADER), header(headers, TIMESTAMP_HEADER)
        if not presented or not timestamp:
            raise WebhookSignatureInvalid(f"komainu webhook without {SIGNATURE_HEADER} / {TIMESTAMP_HEADER}")
        expected = hmac.new(self.config.webhook_secret.get_secret_value().encode(),
                            timestamp.encode() + b"." + body, hashlib.sha256).digest()
        if not hex_equal(expected, presented):
            raise WebhookSignatureInvalid("komainu webhook signature does not match")
        sent_at = _epoch(timestamp)
        if sent_at is None:
            raise WebhookSignatureInvalid(f"komainu webhook timestamp is not a time: {timestamp[:40]!r}")
        if abs(now - sent_at) > self._tolerance:
            raise WebhookSignatureInvalid(f"komainu webhook timestamp {sent_at.isoformat()} is outside the "
                                          f"{int(self._tolerance.total_seconds())} s window")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice:
        data = webhook_json(body, "komainu")
        if (not isinstance(data, dict) or data.get("event_type") != "BALANCE_UPDATED"
                or data.get("entity") != "WALLET" or not isinstance(data.get("entity_id"), str)
                or not data["entity_id"]):
            raise WebhookPayloadInvalid("komainu webhook is not a WALLET BALANCE_UPDATED notice")
        event = data.get("id")
        event_id = f"komainu:{event}" if isinstance(event, str) and event else \
            f"komainu:{(header(headers, SIGNATURE_HEADER) or '').strip().lower()}"
        return WebhookNotice(event_id=event_id, external_wallet_id=data["entity_id"])

    async def current_balance(self, notice: WebhookNotice) -> WalletBalance:
        async with self._client() as http:
            wallet = await self._get(http, f"v1/custody/wallets/{notice.external_wallet_id}")
        balance = wallet.get("balance") if isinstance(wallet, dict) else None
        if not isinstance(balance, dict) or "available" not in balance or not wallet.get("id"):
            raise CustodianProviderError("komainu wallet has no id or balance.available", transient=False,
                                         provider="komainu")
        available = balance["available"]
        sats = btc_to_sats(str(available) if not isinstance(available, str) else available)
        changed_at = _iso(balance.get("balance_updated_at")) or self._clock()
        return WalletBalance(external_wallet_id=str(wallet["id"]), balance_sats=sats, changed_at=changed_at)


def _epoch(value: str) -> datetime | None:
    try:
        number = float(value.strip())
    except ValueError:
        return _iso(value)
    if number > 1e11:  # milliseconds
        number /= 1000
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.utcoffset() is not None else ts.replace(tzinfo=UTC)
