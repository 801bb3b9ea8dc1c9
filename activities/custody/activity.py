"""Temporal activities of custody: thin adapters over ``operations`` (custodians, wallets) and
``wallet_sync`` / ``inbox`` (the webhook → wallet → collateral pipeline), one transaction each.

``custody.create_wallet`` runs after a proposal's approval (``CreditFacility`` workflow): the
provider call in its own idempotent step, so a slow or failing custodian never holds the
facility's conclusion. Transient provider errors (network, 5xx, a Komainu wallet not opened yet)
are retried by the activity retry policy; refusals (bad credentials, a 4xx) are not.

``custody.sync_wallet`` / ``fail_notices`` serve ``CustodyWalletWorkflow``; ``resolve_notice`` the
resolver of a notice whose wallet was unknown; ``poll_self_custody`` the self-custody poll.
"""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.boundary import lana_activity
from activities.custody import operations, wallet_sync
from activities.custody.secrets import Keyring, keyring_from_settings
from activities.custody.wallet_sync import ClientFactory, keyring_clients
from domain.custody.messages import CreateWalletInput, WalletInfo
from domain.custody.sync_messages import (
    BalanceNotice,
    FailNoticeInput,
    PollCursor,
    PollInput,
    SyncInput,
    SyncResult,
)
from ground.settings import Settings


def _workflow_id() -> str | None:
    return activity.info().workflow_id if activity.in_activity() else None


class CustodyActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings, keyring: Keyring | None = None, *,
                 transport: httpx.AsyncBaseTransport | None = None, clients: ClientFactory | None = None) -> None:
        self.engine, self.settings = engine, settings
        self.keyring = keyring or keyring_from_settings(settings)
        self.transport = transport
        # the adapters of the webhook pipeline: the stored custodian's decrypted config by default
        self.clients = clients or keyring_clients(self.keyring, transport=transport)

    @lana_activity("custody.create_wallet")
    async def create_wallet(self, inp: CreateWalletInput) -> WalletInfo | None:
        view = await operations.create_wallet(self.engine, self.keyring, self.settings, inp.facility_id,
                                              transport=self.transport)
        return WalletInfo(**view) if view else None

    @lana_activity("custody.sync_wallet")
    async def sync_wallet(self, inp: SyncInput) -> SyncResult:
        """The provider's current balance (no transaction held), then applied on the locked wallet."""
        balance = await wallet_sync.current_balance(self.engine, self.settings, self.clients, inp)
        async with self.engine.begin() as conn:
            return await wallet_sync.apply_balance(conn, inp, balance, _workflow_id())

    @lana_activity("custody.fail_notices")
    async def fail_notices(self, inp: FailNoticeInput) -> None:
        async with self.engine.begin() as conn:
            await wallet_sync.fail_notices(conn, inp.inbox_ids, inp.error)

    @lana_activity("custody.resolve_notice")
    async def resolve_notice(self, inbox_id: str) -> BalanceNotice | None:
        """The stored notice's wallet (transient while unknown), then the notice handed to the
        wallet's workflow (signal-with-start) after the commit."""
        async with self.engine.begin() as conn:
            notice = await wallet_sync.resolve_notice(conn, inbox_id)
        if notice is not None and activity.in_activity():
            await wallet_sync.signal_wallet(activity.client(), activity.info().task_queue, notice,
                                            self.settings.custody_wallet_idle_seconds)
        return notice

    @lana_activity("custody.poll_self_custody")
    async def poll_self_custody(self, inp: PollInput) -> PollCursor:
        """One pass over the self-custody wallets in keyset pages; the cursor is heartbeated after
        each page, so a retried attempt resumes there (a page polled twice signals nothing new:
        the wallet step applies the latest balance)."""
        details = activity.info().heartbeat_details if activity.in_activity() else None
        cursor = PollCursor.model_validate(details[0]) if details else PollCursor()
        client = activity.client() if activity.in_activity() else None
        task_queue = activity.info().task_queue if activity.in_activity() else self.settings.temporal_task_queue
        while await wallet_sync.poll_page(self.engine, self.settings, self.clients, client, task_queue, cursor,
                                          inp.page_size):
            if activity.in_activity():
                activity.heartbeat(cursor)
        return cursor
