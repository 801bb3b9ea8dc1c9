"""Manual custodian (custody-price-reports.md §1.6): no wallet, no balances, webhooks ignored;
operators record the collateral themselves (``collateralUpdate``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from domain.custody.model import Provider, WebhookNotice


class ManualClient:
    provider = Provider.MANUAL

    async def verify_client(self) -> None:
        return None

    async def initialize_wallet(self, label: str, receive_index: int | None) -> None:
        return None

    async def fetch_wallet_balance(self, external_wallet_id: str, address: str) -> None:
        return None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        return None

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        return None

    async def current_balance(self, notice: WebhookNotice) -> None:
        return None
