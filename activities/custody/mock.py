"""Mock custodian for development and tests (custody-price-reports.md §1.6, §2.3).

Every wallet is ``123`` at ``bt1qaddressmock`` on testnet4. A webhook is unsigned JSON
``{"wallet": "<external id>", "balance": <sats>}``; any other body is ignored. ``event_id`` =
``mock:<hex SHA-256 of the body>`` (the same notice posted twice is one event); the balance is the
notice's own, dated by the clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

from activities.custody.http import webhook_json
from domain.custody.model import InitializedWallet, Network, Provider, WalletBalance, WebhookNotice

MOCK_WALLET_ID = "123"
MOCK_ADDRESS = "bt1qaddressmock"


class MockClient:
    provider = Provider.MOCK

    def __init__(self, *, clock=lambda: datetime.now(UTC)) -> None:
        self._clock = clock

    async def verify_client(self) -> None:
        return None

    async def initialize_wallet(self, label: str, receive_index: int | None) -> InitializedWallet:
        return InitializedWallet(external_wallet_id=MOCK_WALLET_ID, address=MOCK_ADDRESS, network=Network.TESTNET4,
                                 custodian_response={"type": "mock", "label": label})

    async def fetch_wallet_balance(self, external_wallet_id: str, address: str) -> None:
        return None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        return None  # unsigned by design: the mock exists only where custody_mock_enabled is on

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice | None:
        try:
            data = webhook_json(body, "mock")
        except Exception:
            return None
        if not isinstance(data, dict) or set(data) != {"wallet", "balance"}:
            return None
        wallet, balance = data["wallet"], data["balance"]
        if not isinstance(wallet, str) or isinstance(balance, bool) or not isinstance(balance, int) or balance < 0:
            return None
        return WebhookNotice(event_id=f"mock:{hashlib.sha256(body).hexdigest()}", external_wallet_id=wallet,
                             balance_sats=balance)

    async def current_balance(self, notice: WebhookNotice) -> WalletBalance | None:
        if notice.balance_sats is None:
            return None
        return WalletBalance(external_wallet_id=notice.external_wallet_id, balance_sats=notice.balance_sats,
                             changed_at=self._clock())
