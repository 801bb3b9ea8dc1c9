"""BitGo adapter (custody-price-reports.md §1.1, §1.3, §1.6, §2.1).

* Auth: ``Authorization: Bearer <long_lived_token>``; coin ``tbtc4`` on the testing instance, else ``btc``.
* ``verify_client``: ``GET api/v2/wallets/count`` and ``GET api/v2/enterprise/{enterprise_id}``.
* ``initialize_wallet``: a 2-of-3 wallet. The user and backup keys are generated here (BIP32, with
  ``embit``) and uploaded as public keys with their private keys encrypted under the config's
  ``passphrase`` (``POST api/v2/{coin}/key``; envelope below); BitGo makes the third key
  (``source: bitgo``). Then ``POST api/v2/{coin}/wallet/add {label, m:2, n:3, keys, enterprise}``
  and the ``transfer`` webhook (``POST api/v2/{coin}/wallet/{id}/webhooks``). Address =
  ``receiveAddress.address``; network testnet4 on the testing instance, else mainnet.
* Webhook: ``x-signature-sha256`` = hex HMAC-SHA256(``webhook_secret``, raw body), compared in
  constant time. Body ``{hash, transfer, wallet, coin, state, transferType, simulation}``;
  ``simulation`` or a state other than ``confirmed`` changes nothing. ``event_id`` =
  ``bitgo:<wallet>:<transfer>:<state>``: the transfer id is BitGo's identity of the transfer within
  the wallet and a transfer is confirmed once, so a redelivered notice has the same id while the
  transaction ``hash`` (shared by every wallet a transaction touches) is kept in ``detail`` only.
* ``current_balance``: ``GET api/v2/{coin}/wallet/{wallet}/transfer/{transfer}``; still
  ``confirmed`` ⇒ ``GET api/v2/wallet/{wallet}`` ``confirmedBalance`` (integer sats, whole wallet),
  ``changed_at`` = the transfer's ``confirmedTime`` or now.

Private-key envelope (``encryptedPrv``): JSON ``{"v":1,"kdf":"scrypt","n","r","p","salt","nonce",
"ct"}``, ChaCha20-Poly1305 under scrypt(passphrase). It is this adapter's own format (BitGo stores it
opaquely): recovering a key needs the passphrase and this code, not BitGo's web tools.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from embit.bip32 import HDKey
from embit.networks import NETWORKS

from activities.custody.http import header, hex_equal, json_of, make_http, send, webhook_json
from domain.custody.config import BitGoConfig
from domain.custody.model import (
    CustodianProviderError,
    InitializedWallet,
    Network,
    Provider,
    WalletBalance,
    WebhookNotice,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)

PRODUCTION_URL = "https://app.bitgo.com"
TESTING_URL = "https://app.bitgo-test.com"
SIGNATURE_HEADER = "x-signature-sha256"
STATES = frozenset({"confirmed", "failed", "initialized", "pendingApproval", "rejected", "removed", "replaced",
                    "signed", "unconfirmed"})
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def encrypt_private_key(passphrase: str, xprv: str) -> str:
    salt, nonce = os.urandom(16), os.urandom(12)
    key = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode())
    ct = ChaCha20Poly1305(key).encrypt(nonce, xprv.encode(), None)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return json.dumps({"v": 1, "kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
                       "salt": b64(salt), "nonce": b64(nonce), "ct": b64(ct)}, separators=(",", ":"))


def decrypt_private_key(passphrase: str, envelope: str) -> str:
    e = json.loads(envelope)
    key = Scrypt(salt=base64.b64decode(e["salt"]), length=32, n=e["n"], r=e["r"], p=e["p"]).derive(passphrase.encode())
    return ChaCha20Poly1305(key).decrypt(base64.b64decode(e["nonce"]), base64.b64decode(e["ct"]), None).decode()


class BitGoClient:
    provider = Provider.BITGO

    def __init__(self, config: BitGoConfig, base_url: str | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None, clock=lambda: datetime.now(UTC)) -> None:
        self.config = config
        self._base_url = base_url or (TESTING_URL if config.testing_instance else PRODUCTION_URL)
        self._transport = transport
        self._clock = clock

    def __repr__(self) -> str:
        return f"BitGoClient(enterprise_id={self.config.enterprise_id!r}, coin={self.config.coin!r})"

    def _http(self) -> httpx.AsyncClient:
        token = self.config.long_lived_token.get_secret_value()
        return make_http(self._base_url, self._transport, headers={"authorization": f"Bearer {token}",
                                                                   "accept": "application/json"})

    async def _call(self, http: httpx.AsyncClient, method: str, path: str, body: Any = None) -> Any:
        request = http.build_request(method, path, json=body)
        return json_of(await send(http, "bitgo", request), "bitgo")

    async def verify_client(self) -> None:
        async with self._http() as http:
            await self._call(http, "GET", "api/v2/wallets/count")
            await self._call(http, "GET", f"api/v2/enterprise/{self.config.enterprise_id}")

    async def initialize_wallet(self, label: str, receive_index: int | None) -> InitializedWallet:
        coin, passphrase = self.config.coin, self.config.passphrase.get_secret_value()
        net = NETWORKS["test" if self.config.testing_instance else "main"]
        async with self._http() as http:
            key_ids = []
            for source in ("user", "backup"):
                root = HDKey.from_seed(os.urandom(32), version=net["xprv"])
                answer = await self._call(http, "POST", f"api/v2/{coin}/key", {
                    "source": source, "pub": root.to_public().to_string(),
                    "encryptedPrv": encrypt_private_key(passphrase, root.to_string())})
                key_ids.append(_field(answer, "id"))
            bitgo_key = await self._call(http, "POST", f"api/v2/{coin}/key",
                                         {"source": "bitgo", "enterprise": self.config.enterprise_id})
            key_ids.append(_field(bitgo_key, "id"))
            wallet = await self._call(http, "POST", f"api/v2/{coin}/wallet/add", {
                "label": label, "m": 2, "n": 3, "keys": key_ids, "enterprise": self.config.enterprise_id})
            wallet_id = _field(wallet, "id")
            address = wallet.get("receiveAddress", {}).get("address") if isinstance(wallet, dict) else None
            if not address:
                raise CustodianProviderError("bitgo wallet/add answered no receiveAddress.address",
                                             transient=False, provider="bitgo")
            await self._call(http, "POST", f"api/v2/{coin}/wallet/{wallet_id}/webhooks",
                             {"type": "transfer", "url": self.config.webhook_url})
        return InitializedWallet(
            external_wallet_id=str(wallet_id), address=str(address),
            network=Network.TESTNET4 if self.config.testing_instance else Network.MAINNET,
            custodian_response={"id": str(wallet_id), "label": label, "coin": coin, "keys": key_ids,
                                "receive_address": str(address)})

    async def fetch_wallet_balance(self, external_wallet_id: str, address: str) -> None:
        return None  # BitGo notifies (webhooks); it is never polled

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        presented = header(headers, SIGNATURE_HEADER)
        if not presented:
            raise WebhookSignatureInvalid(f"bitgo webhook without {SIGNATURE_HEADER}")
        expected = hmac.new(self.config.webhook_secret.get_secret_value().encode(), body, hashlib.sha256).digest()
        if not hex_equal(expected, presented):
            raise WebhookSignatureInvalid("bitgo webhook signature does not match")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice | None:
        data = webhook_json(body, "bitgo")
        if not isinstance(data, dict):
            raise WebhookPayloadInvalid("bitgo webhook body is not an object")
        try:
            transfer, wallet, state = str(data["transfer"]), str(data["wallet"]), data["state"]
            tx_hash, coin = str(data["hash"]), str(data["coin"])
            transfer_type = data["transferType"]
        except KeyError as exc:
            raise WebhookPayloadInvalid(f"bitgo webhook body lacks {exc.args[0]!r}") from None
        simulation = data.get("simulation", False)
        if state not in STATES or transfer_type not in ("receive", "send") or not isinstance(simulation, bool):
            raise WebhookPayloadInvalid(f"bitgo webhook with unknown state/transferType {state!r}/{transfer_type!r}")
        if simulation or state != "confirmed":
            return None
        return WebhookNotice(event_id=f"bitgo:{wallet}:{transfer}:{state}", external_wallet_id=wallet,
                             detail={"transfer": transfer, "hash": tx_hash, "coin": coin,
                                     "transfer_type": transfer_type})

    async def current_balance(self, notice: WebhookNotice) -> WalletBalance | None:
        wallet, transfer = notice.external_wallet_id, notice.detail["transfer"]
        async with self._http() as http:
            t = await self._call(http, "GET", f"api/v2/{self.config.coin}/wallet/{wallet}/transfer/{transfer}")
            if not isinstance(t, dict) or t.get("state") != "confirmed":
                return None  # no longer confirmed (replaced, removed): nothing to record
            w = await self._call(http, "GET", f"api/v2/wallet/{wallet}")
        balance = w.get("confirmedBalance") if isinstance(w, dict) else None
        if isinstance(balance, bool) or not isinstance(balance, int) or balance < 0:
            raise CustodianProviderError(f"bitgo confirmedBalance is not a whole number of sats: {balance!r}",
                                         transient=False, provider="bitgo")
        changed_at = _timestamp(t.get("confirmedTime")) or self._clock()
        return WalletBalance(external_wallet_id=wallet, balance_sats=balance, changed_at=changed_at)


def _field(answer: Any, name: str) -> Any:
    if not isinstance(answer, dict) or not answer.get(name):
        raise CustodianProviderError(f"bitgo answered without {name!r}", transient=False, provider="bitgo")
    return answer[name]


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.utcoffset() is not None else ts.replace(tzinfo=UTC)
