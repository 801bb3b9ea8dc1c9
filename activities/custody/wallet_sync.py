"""From a wallet's balance to the facility's collateral (custody-price-reports.md §1.7, spec rules).

Each step is one transaction, ordered as everywhere else: the facility's row before its wallet's.

- ``sync_wallet`` (the wallet workflow's step, coalesced notices): the provider's **current**
  balance is read first, outside any transaction (BitGo/Komainu re-read it; the mock's and a poll's
  notice carry it); then, on the locked wallet row, one ``system:<provider>`` audit row per webhook
  notice (even when nothing changes), ``balance_changed`` only when the balance differs from the
  wallet's latest, the read model, and the notices' inbox rows ``COMPLETED``. Duplicates and late
  deliveries are harmless: the step applies whatever the provider says now.
- ``lock_facility_wallet`` / ``release_wallet``: used by the credit steps (the custody path of
  ``record_collateral`` reads the wallet's latest balance under the facility's lock; completion
  marks the wallet released).
- ``resolve_notice``: a stored notice whose wallet was unknown when it arrived; raised as transient
  so the resolver workflow's bounded retry policy decides when it is ``FAILED``.
- ``poll_page``: one keyset page of self-custody wallets; the confirmed balance of each, a wallet
  whose balance differs from the stored one is signalled (a poll notice); one failing wallet is
  recorded in the cursor and never stops the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError

from activities import event_store
from activities.audit import record_system_action
from activities.custody import inbox
from activities.custody.tables import custodians, wallets
from domain.custody.model import (
    CustodianClient,
    CustodianNotFound,
    Provider,
    WalletBalance,
    WalletNotFound,
)
from domain.custody.sync_messages import (
    BALANCE_NOTICE_SIGNAL,
    BalanceNotice,
    NoticeSource,
    PollCursor,
    SyncInput,
    SyncResult,
    WalletWorkflowInput,
)
from domain.custody.wallet import (
    SYNC_ACTOR,
    WALLET_UPDATE,
    CustodyWallet,
    provider_subject,
    wallet_object,
)
from domain.errors import ServiceUnavailable
from ground.settings import Settings

log = structlog.get_logger(__name__)

WALLET_WORKFLOW = "CustodyWalletWorkflow"  # by name: activities import no workflows
MAX_FAILURES_KEPT = 100  # per poll pass, with their errors (all are counted and logged)

# (provider, the custodian's row, settings) -> the adapter. Production: ``keyring_clients`` (the
# decrypted config and ``activities.custody.clients.client_for``).
ClientFactory = Callable[[str, Any, Settings], CustodianClient]


def wallet_workflow_id(wallet_id: str) -> str:
    return f"custody-wallet-{wallet_id}"


def keyring_clients(keyring, *, transport=None) -> ClientFactory:
    """The production factory: the stored custodian's config decrypted with ``keyring``
    (``operations.decrypted_config``), then ``client_for``."""
    from activities.custody.clients import client_for
    from activities.custody.secrets import custodian_context
    from domain.custody.config import config_from_plaintext

    def build(provider: str, custodian_row: Any, settings: Settings) -> CustodianClient:
        kind = Provider(provider)
        if custodian_row.encrypted_config is None:
            config = config_from_plaintext(kind, b"{}")
        else:
            config = config_from_plaintext(kind, keyring.decrypt(custodian_row.encrypted_config,
                                                                 context=custodian_context(str(custodian_row.id))))
        return client_for(kind, config, settings, transport=transport)

    return build


async def custodian_of(conn: AsyncConnection, provider: str):
    """The custodian of ``provider`` (at most one per provider), or None."""
    return (await conn.execute(select(custodians).where(custodians.c.provider == provider))).first()


# --- wallet rows ---------------------------------------------------------------------------------
def _wallet(row) -> CustodyWallet:
    return CustodyWallet(id=str(row.id), version=row.version, balance_sats=row.balance_sats,
                         balance_changed_at=row.balance_changed_at, released_at=row.released_at)


async def _lock_wallet(conn: AsyncConnection, wallet_id: str):
    row = (await conn.execute(select(wallets).where(wallets.c.id == wallet_id).with_for_update())).first()
    if row is None:
        raise WalletNotFound(f"Custody wallet {wallet_id} does not exist.")
    return row


async def _save(conn: AsyncConnection, w: CustodyWallet) -> None:
    if not w.pending:
        return
    old = w.version
    await event_store.save_entity(conn, w)
    await conn.execute(update(wallets).where(wallets.c.id == w.id, wallets.c.version == old).values(
        balance_sats=w.balance_sats, balance_changed_at=w.balance_changed_at, released_at=w.released_at,
        version=w.version))


async def lock_facility_wallet(conn: AsyncConnection, facility_id: str):
    """The facility's wallet row, locked (the caller holds the facility's row lock first), or None."""
    return (await conn.execute(select(wallets).where(wallets.c.facility_id == facility_id)
                               .with_for_update())).first()


async def release_wallet(conn: AsyncConnection, facility_id: str, now: datetime,
                         workflow_id: str | None = None) -> str | None:
    """Completion of a custodian-managed facility (§1.7, part 5 of issue 19): the wallet is marked
    released (event ``released``), audited as ``system:custodian-sync``. Returns the wallet id, or
    None when the facility has no custodian wallet (manual collateral)."""
    row = await lock_facility_wallet(conn, facility_id)
    if row is None or row.provider == Provider.MANUAL:
        return None
    w = _wallet(row)
    if w.release(now):
        await record_system_action(conn, wallet_object(w.id), WALLET_UPDATE, subject=SYNC_ACTOR,
                                   workflow_id=workflow_id)
        await _save(conn, w)
    return w.id


# --- the wallet workflow's step ------------------------------------------------------------------
async def current_balance(engine: AsyncEngine, settings: Settings, clients: ClientFactory,
                          inp: SyncInput) -> WalletBalance | None:
    """The provider's balance now, for the newest notice of the batch (no transaction held)."""
    notice = inp.notices[-1]
    if notice.balance_sats is not None and notice.changed_at is not None:  # a poll saw it
        return WalletBalance(notice.external_wallet_id, notice.balance_sats, notice.changed_at)
    async with engine.connect() as conn:
        custodian = await custodian_of(conn, notice.provider)
    if custodian is None:
        raise CustodianNotFound(f"No custodian of provider {notice.provider}.")
    client = clients(notice.provider, custodian, settings)
    return await client.current_balance(notice.webhook_notice())


async def apply_balance(conn: AsyncConnection, inp: SyncInput, balance: WalletBalance | None,
                        workflow_id: str | None = None) -> SyncResult:
    row = await _lock_wallet(conn, inp.wallet_id)
    w = _wallet(row)
    changed = False
    if balance is not None:
        webhooks = [n for n in inp.notices if n.source is NoticeSource.WEBHOOK]
        for n in webhooks:  # §6: one row per processed notification, even unchanged
            await record_system_action(conn, wallet_object(w.id), WALLET_UPDATE, subject=provider_subject(n.provider),
                                       workflow_id=workflow_id)
        changed = w.record_balance(balance.balance_sats, balance.changed_at)
        if changed and not webhooks:  # §6 spec rule: polling audits only a recorded change
            await record_system_action(conn, wallet_object(w.id), WALLET_UPDATE, subject=SYNC_ACTOR,
                                       workflow_id=workflow_id)
        await _save(conn, w)
    await inbox.complete(conn, [n.inbox_id for n in inp.notices if n.inbox_id])
    return SyncResult(wallet_id=w.id, facility_id=str(row.facility_id), balance_sats=w.balance_sats,
                      changed_at=w.balance_changed_at, changed=changed, released=w.released_at is not None)


async def fail_notices(conn: AsyncConnection, inbox_ids: list[str], error: str) -> None:
    for inbox_id in inbox_ids:
        await inbox.fail(conn, inbox_id, error)


# --- routing notices -----------------------------------------------------------------------------
async def signal_wallet(client, task_queue: str, notice: BalanceNotice, idle_seconds: int) -> None:
    """Signal-with-start ``custody-wallet-{id}``: a running run takes the notice, else a new run
    starts with it."""
    await hand_over(lambda: client.start_workflow(
        WALLET_WORKFLOW, WalletWorkflowInput(wallet_id=notice.wallet_id, idle_seconds=idle_seconds),
        id=wallet_workflow_id(notice.wallet_id), task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=BALANCE_NOTICE_SIGNAL, start_signal_args=[notice]))


HAND_OVER_ATTEMPTS = 4


async def hand_over(start) -> None:
    """Run a start / signal-with-start, retrying a refused RPC briefly: a signal-with-start can meet a
    wallet run that is closing (idle) at that instant. Still refused: 503 with ``Retry-After`` (the
    notice is stored and PENDING; a provider's retry or the workflow-start sweep hands it over)."""
    for attempt in range(1, HAND_OVER_ATTEMPTS + 1):
        try:
            await start()
            return
        except RPCError as exc:
            log.warning("custody notice hand-over refused by Temporal", attempt=attempt, status=str(exc.status),
                        message=exc.message)
            if attempt == HAND_OVER_ATTEMPTS:
                raise ServiceUnavailable("Could not hand the notice to Temporal; retry later.", retry_after=2) from exc
            await asyncio.sleep(0.05 * 2 ** attempt)


def notice_of(row, wallet_id: str) -> BalanceNotice:
    """The wallet workflow's notice for a stored inbox row."""
    n = row.notice
    return BalanceNotice(wallet_id=wallet_id, provider=row.provider, inbox_id=str(row.id), event_id=row.event_id,
                         external_wallet_id=row.external_wallet_id, balance_sats=n.get("balance_sats"),
                         detail=n.get("detail") or {})


async def resolve_notice(conn: AsyncConnection, inbox_id: str) -> BalanceNotice | None:
    """The notice with its wallet, once a wallet with that external id exists; None when the row is
    no longer pending. An unknown wallet is raised as **transient** (§2.4 spec rule: the webhook may
    race the wallet's commit): the resolver's bounded retry policy decides when it fails."""
    row = await inbox.get(conn, inbox_id)
    if row is None or row.status != "PENDING":
        return None
    wallet_id = row.wallet_id and str(row.wallet_id)
    if wallet_id is None:
        wallet_id = await inbox.wallet_for(conn, row.provider, row.external_wallet_id)
    if wallet_id is None:
        exc = WalletNotFound(f"No {row.provider} wallet with external id {row.external_wallet_id!r}.")
        exc.transient = True  # retried, a bounded number of times (the resolver's retry policy)
        raise exc
    await inbox.attach_wallet(conn, inbox_id, wallet_id)
    return notice_of(row, wallet_id)


# --- self-custody polling ------------------------------------------------------------------------
async def poll_page(engine: AsyncEngine, settings: Settings, clients: ClientFactory, client, task_queue: str,
                    cursor: PollCursor, page_size: int) -> bool:
    """One page of self-custody wallets after ``cursor.after_id`` (keyset on id); True when there
    may be more. Failures are per wallet (recorded in the cursor, logged)."""
    async with engine.connect() as conn:
        custodian = await custodian_of(conn, Provider.SELF_CUSTODY)
        q = (select(wallets.c.id, wallets.c.external_wallet_id, wallets.c.address, wallets.c.balance_sats)
             .where(wallets.c.provider == Provider.SELF_CUSTODY.value, wallets.c.released_at.is_(None))
             .order_by(wallets.c.id).limit(page_size))
        if cursor.after_id is not None:
            q = q.where(wallets.c.id > cursor.after_id)
        rows = (await conn.execute(q)).all()
    if not rows:
        return False
    adapter, setup_error = None, ""
    if custodian is not None:
        try:
            adapter = clients(Provider.SELF_CUSTODY.value, custodian, settings)
        except Exception as exc:  # noqa: BLE001 - recorded for every wallet of the page below
            log.error("self-custody client unavailable", error=str(exc))
            setup_error = f"{type(exc).__name__}: {exc}"
    for row in rows:
        wallet_id = str(row.id)
        cursor.after_id = wallet_id
        cursor.checked += 1
        try:
            if adapter is None:
                raise CustodianNotFound(setup_error if custodian is not None else "No self-custody custodian.")
            balance = await adapter.fetch_wallet_balance(row.external_wallet_id, row.address)
            if balance is None or balance.balance_sats == row.balance_sats:
                continue
            changed_at = balance.changed_at or datetime.now(UTC)
            await signal_wallet(client, task_queue, BalanceNotice(
                wallet_id=wallet_id, provider=Provider.SELF_CUSTODY.value, source=NoticeSource.POLL,
                event_id=f"poll:{wallet_id}:{balance.balance_sats}:{changed_at.isoformat()}",
                external_wallet_id=row.external_wallet_id, balance_sats=balance.balance_sats,
                changed_at=changed_at), settings.custody_wallet_idle_seconds)
            cursor.changed += 1
        except Exception as exc:  # noqa: BLE001 - one failing wallet never stops the others
            log.warning("self-custody wallet not polled", wallet_id=wallet_id, error=str(exc))
            if len(cursor.failed) < MAX_FAILURES_KEPT:
                cursor.failed[wallet_id] = f"{getattr(exc, 'code', type(exc).__name__)}: {exc}"[:500]
            cursor.failures += 1
    return len(rows) == page_size
