"""Temporal activities of custody: thin adapters over ``operations``.

``custody.create_wallet`` runs after a proposal's approval (``CreditFacility`` workflow): the
provider call in its own idempotent step, so a slow or failing custodian never holds the
facility's conclusion. Transient provider errors (network, 5xx, a Komainu wallet not opened yet)
are retried by the activity retry policy; refusals (bad credentials, a 4xx) are not.
"""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.boundary import lana_activity
from activities.custody import operations
from activities.custody.secrets import Keyring, keyring_from_settings
from domain.custody.messages import CreateWalletInput, WalletInfo
from ground.settings import Settings


class CustodyActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings, keyring: Keyring | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.engine, self.settings = engine, settings
        self.keyring = keyring or keyring_from_settings(settings)
        self.transport = transport

    @lana_activity("custody.create_wallet")
    async def create_wallet(self, inp: CreateWalletInput) -> WalletInfo | None:
        view = await operations.create_wallet(self.engine, self.keyring, self.settings, inp.facility_id,
                                              transport=self.transport)
        return WalletInfo(**view) if view else None
