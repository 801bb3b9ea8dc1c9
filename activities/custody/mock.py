"""The mock custodian (custody-price-reports.md §1.6, §2.3): development and acceptance tests only.

No signature (the webhook route accepts it only when ``LANA_CUSTODY_MOCK_ENABLED`` is on). Body
``{"wallet": "<external id>", "balance": <sats>}``; any other JSON object is ignored. The event
identity is the ``idempotency-key`` header when sent, else the SHA-256 of the body (the same body
twice is one notification). The notice carries its balance, so ``current_balance`` is that balance
at the app clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from domain.custody.model import (
    InitializedWallet,
    Network,
    Provider,
    WalletBalance,
    WebhookNotice,
    WebhookPayloadInvalid,
)

MOCK_WALLET_ID = "123"
MOCK_ADDRESS = "bt1qaddressmock"


class MockClient:
    provider = Provider.MOCK

    async def verify_client(self) -> None:
        return None

    async def initialize_wallet(self, label: str, receive_index: int | None) -> InitializedWallet | None:
        return InitializedWallet(MOCK_WALLET_ID, MOCK_ADDRESS, Network.TESTNET4, {"label": label})

    async def fetch_wallet_balance(self, external_wallet_id: str, address: str) -> WalletBalance | None:
        return None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        return None  # unsigned by design; the route refuses the mock unless it is enabled

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice | None:
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise WebhookPayloadInvalid("The body is not JSON.") from exc
        if not isinstance(payload, dict) or "wallet" not in payload or "balance" not in payload:
            return None
        wallet, balance = payload["wallet"], payload["balance"]
        if not isinstance(wallet, str) or not wallet or isinstance(balance, bool) or not isinstance(balance, int) \
                or balance < 0:
            raise WebhookPayloadInvalid('Expected {"wallet": "<external id>", "balance": <non-negative sats>}.')
        event_id = headers.get("idempotency-key") or hashlib.sha256(body).hexdigest()
        return WebhookNotice(event_id=f"mock:{event_id}", external_wallet_id=wallet, balance_sats=balance)

    async def current_balance(self, notice: WebhookNotice) -> WalletBalance | None:
        if notice.balance_sats is None:
            return None
        return WalletBalance(notice.external_wallet_id, notice.balance_sats, datetime.now(UTC))
