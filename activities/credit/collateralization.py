"""Collateralization at scale (credit.md §3.4–§3.6; issue 18 items 2 and 6): the set-based price
pass and the end of day's outstanding updates.

Every facility stores the prices at which its state would change (``credit_collateralization_triggers``:
``trigger_price_down``: at any price ``<=``; ``trigger_price_up``: at any price ``>=``;
``domain.credit.cvl.trigger_prices`` from its state, collateral, total outstanding and terms,
hysteresis included). Every writer keeps them right under the facility's row lock
(``store.save_triggers``, and the passes here), so:

- **A price event** (``price_pass``) reads only the facilities whose trigger the new price crossed,
  from the two indexes ``(trigger_price_down, id)`` / ``(trigger_price_up, id)``, in keyset pages
  (one transaction per page, facility rows locked in id order). For each active one the domain
  re-evaluates (``cvl.reevaluate``); a changed state is written set-based for the whole page: the
  row (state, CVL, price, version: no indexed column, so a HOT update), the new trigger prices, the
  ``collateralization_changed`` event, the history row, and the signal in the outbox ``credit_collateralization_signals`` (key
  ``price:{observed_at}:{facility}``, so a page run twice adds nothing). A pending facility whose
  activation price was reached gets a ``price_changed`` signal: its workflow activates it (the
  postings belong to its own step). After the pages, the outbox is signalled and marked delivered:
  a crash between a commit and the signals loses none (the retried attempt sends what is
  undelivered). The new trigger prices of a changed row are never crossed at the price that
  changed it (property-tested), so a row is written once per event. Pages of concurrent passes are
  serialised by a session advisory lock, and a pass stops when a newer price has been recorded
  (that price's own pass re-evaluates from the stored states). Pages run ``concurrency`` at a time
  (disjoint rows, a connection each), so PostgreSQL works on every core.
- **The end of day** (``outstanding_moved``, called by the cycle-completion step for the interest
  it posted and by the obligation transitions for what defaulted) adds to each facility's stored
  total outstanding, re-evaluates at the latest price and writes the same way; a changed state is
  a ``collateralization_changed`` end-of-day event (the step's own outbox).

Payments and other single-facility changes go through ``operations.recompute_collateralization``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio.service import RPCError, RPCStatusCode

from activities.price.store import latest_price
from domain.credit import cvl as cvlmod
from domain.credit.end_of_day import FacilityEvent, FacilityEventKind
from domain.credit.facility import CreditFacility, collateralization_payload
from domain.credit.messages import (
    COLLATERALIZATION_SIGNAL,
    CollateralizationSignal,
    PricePassCursor,
    PricePassInput,
    PricePassResult,
)
from domain.credit.status import FacilityStatus, PendingStatus, Stage
from domain.credit.terms import TermValues
from domain.errors import ConcurrencyConflict
from domain.price.model import PriceChanged

ENTITY = CreditFacility.entity_type
PASS_LOCK = 0x4C414E41_43564C  # "LANA" "CVL": serialises the pages of concurrent price passes
SAMPLE = 100
SIGNALS_IN_FLIGHT = 64
SIGNAL_ATTEMPTS = 5
_TRANSIENT = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED,
              RPCStatusCode.CANCELLED)
_OPEN = (FacilityStatus.ACTIVE.value, FacilityStatus.MATURED.value)
_ROW = ("SELECT f.id, f.stage, f.status, f.pending_status, f.collateralization, f.collateral_sats,"
        " f.outstanding_cents, f.amount_cents, f.version, t.trigger_price_down, t.trigger_price_up,"
        " CAST(f.terms AS text) AS terms_text FROM credit_facilities f"
        " LEFT JOIN credit_collateralization_triggers t ON t.facility_id = f.id"
        " WHERE f.id = ANY(CAST(:ids AS uuid[])) ORDER BY f.id FOR UPDATE OF f")


@dataclass
class RowUpdate:
    """One facility's new figures; ``state`` set (with ``version``) when its state changed."""

    id: str
    outstanding: int
    triggers: cvlmod.TriggerPrices
    collateral_sats: int = 0
    state: cvlmod.CollateralizationState | None = None
    value: Decimal | None = None
    price: int | None = None
    version: int | None = None


class _Terms(dict):
    """Facilities of one product share their terms: each distinct text is parsed once."""

    def __missing__(self, key: str) -> TermValues:
        value = self[key] = TermValues.model_validate_json(key)
        return value


def _decide(r, terms: TermValues, outstanding: int, price: int | None) -> RowUpdate:
    """The domain's re-evaluation of one locked row (an open active facility) at ``price``."""
    previous = cvlmod.CollateralizationState(r.collateralization) if r.collateralization else None
    update = RowUpdate(str(r.id), outstanding, cvlmod.NO_TRIGGERS, r.collateral_sats)
    state = previous
    if price is not None:
        value, new = cvlmod.reevaluate(previous, r.collateral_sats, outstanding, price, terms)
        if new is not previous:
            state = update.state = new
            update.value, update.price, update.version = value, price, r.version + 1
    update.triggers = cvlmod.trigger_prices(state, r.collateral_sats, outstanding, terms)
    return update


def _is_open_active(r) -> bool:
    return r.stage == Stage.ACTIVE.value and r.status in _OPEN


def _cvl_sort(value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    return Decimal("1e12") if value.is_infinite() else value


async def _locked_rows(conn: AsyncConnection, ids: list[str]):
    return (await conn.execute(text(_ROW), {"ids": ids})).all()


async def write(conn: AsyncConnection, updates: list[RowUpdate], *, reason: str,
                observed_at: datetime | None = None) -> list[RowUpdate]:
    """Write a page's updates set-based (rows locked by the caller): every row's outstanding and
    trigger prices; for a changed state also the state, CVL, price, version, the event and the
    history row. Returns the changed ones."""
    if not updates:
        return []
    changed = [u for u in updates if u.state is not None]
    await conn.execute(text(  # no indexed column: a HOT update where the page has room (fillfactor 70)
        "UPDATE credit_facilities AS f SET outstanding_cents = u.outstanding,"
        " collateralization = COALESCE(u.state, f.collateralization),"
        " cvl = COALESCE(u.cvl, f.cvl), cvl_sort = COALESCE(u.cvl_sort, f.cvl_sort),"
        " price_cents = COALESCE(u.price, f.price_cents), version = COALESCE(u.version, f.version),"
        " updated_at = now()"
        " FROM unnest(CAST(:id AS uuid[]), CAST(:outstanding AS bigint[]), CAST(:state AS text[]),"
        " CAST(:cvl AS text[]), CAST(:cvl_sort AS numeric[]), CAST(:price AS bigint[]), CAST(:version AS bigint[]))"
        " AS u(id, outstanding, state, cvl, cvl_sort, price, version) WHERE f.id = u.id"),
        {"id": [u.id for u in updates], "outstanding": [u.outstanding for u in updates],
         "state": [u.state.value if u.state else None for u in updates],
         "cvl": [None if u.value is None else str(u.value) for u in updates],
         "cvl_sort": [_cvl_sort(u.value) for u in updates], "price": [u.price for u in updates],
         "version": [u.version for u in updates]})
    await conn.execute(text(
        "INSERT INTO credit_collateralization_triggers AS t (facility_id, trigger_price_down, trigger_price_up)"
        " SELECT * FROM unnest(CAST(:id AS uuid[]), CAST(:down AS bigint[]), CAST(:up AS bigint[]))"
        " ON CONFLICT (facility_id) DO UPDATE SET trigger_price_down = EXCLUDED.trigger_price_down,"
        " trigger_price_up = EXCLUDED.trigger_price_up"),
        {"id": [u.id for u in updates], "down": [u.triggers.down for u in updates],
         "up": [u.triggers.up for u in updates]})
    if not changed:
        return []
    payloads = [json.dumps(collateralization_payload(Stage.ACTIVE.value, u.state.value, u.value, u.collateral_sats,
                                                     u.outstanding, u.price, reason, observed_at)) for u in changed]
    try:
        await conn.execute(text(
                "INSERT INTO events (entity_type, entity_id, sequence, event_type, payload)"
            " SELECT :entity, e.id, e.seq, 'collateralization_changed', CAST(e.payload AS jsonb)"
            " FROM unnest(CAST(:id AS text[]), CAST(:seq AS bigint[]), CAST(:payload AS text[]))"
            " AS e(id, seq, payload)"),
            {"entity": ENTITY, "id": [u.id for u in changed], "seq": [u.version for u in changed],
             "payload": payloads})
    except IntegrityError as exc:  # a facility's stream moved past its locked row: a bug, or a race lost
        raise ConcurrencyConflict("A facility of the page changed concurrently.") from exc
    await conn.execute(text(
        "INSERT INTO credit_collateralization_history (facility_id, seq, stage, state, cvl, collateral_sats,"
        " outstanding_cents, price_cents, recorded_at, reason)"
        " SELECT h.id, COALESCE((SELECT max(x.seq) FROM credit_collateralization_history x"
        " WHERE x.facility_id = h.id), 0) + 1, :stage, h.state, h.cvl, h.sats, h.outstanding, h.price,"
        " clock_timestamp(), :reason"
        " FROM unnest(CAST(:id AS uuid[]), CAST(:state AS text[]), CAST(:cvl AS text[]), CAST(:sats AS bigint[]),"
        " CAST(:outstanding AS bigint[]), CAST(:price AS bigint[])) AS h(id, state, cvl, sats, outstanding, price)"),
        {"stage": Stage.ACTIVE.value, "reason": reason, "id": [u.id for u in changed],
         "state": [u.state.value for u in changed], "cvl": [str(u.value) for u in changed],
         "sats": [u.collateral_sats for u in changed], "outstanding": [u.outstanding for u in changed],
         "price": [u.price for u in changed]})
    return changed


def signal_of(u: RowUpdate, reason: str) -> CollateralizationSignal:
    assert u.state is not None and u.value is not None and u.price is not None and u.version is not None
    return CollateralizationSignal(facility_id=u.id, state=u.state, cvl=str(u.value), price_cents=u.price,
                                   outstanding_cents=u.outstanding, collateral_sats=u.collateral_sats,
                                   version=u.version, reason=reason)


# --- the price pass ---------------------------------------------------------------------------------
def _keys_query(phase: str, cursor: PricePassCursor) -> str:
    if phase == "down":
        where, order = "trigger_price_down >= :price", "trigger_price_down DESC, facility_id DESC"
        after = " AND (trigger_price_down, facility_id) < (:t, CAST(:after AS uuid))"
        column = "trigger_price_down"
    else:
        where, order = "trigger_price_up <= :price", "trigger_price_up, facility_id"
        after = " AND (trigger_price_up, facility_id) > (:t, CAST(:after AS uuid))"
        column = "trigger_price_up"
    q = f"SELECT facility_id AS id, {column} AS trig FROM credit_collateralization_triggers WHERE {where}"
    if cursor.after is not None:
        q += after
    return q + f" ORDER BY {order} LIMIT :n"


async def _outbox(conn: AsyncConnection, rows: list[tuple[str, str, str, str]]) -> None:
    """(key, facility id, kind, payload json) rows; a key already stored is left as it is."""
    if rows:
        await conn.execute(text(
            "INSERT INTO credit_collateralization_signals (key, facility_id, kind, payload)"
            " SELECT k, f, kind, CAST(p AS jsonb) FROM unnest(CAST(:k AS text[]), CAST(:f AS uuid[]),"
            " CAST(:kind AS text[]), CAST(:p AS text[])) AS o(k, f, kind, p) ON CONFLICT (key) DO NOTHING"),
            {"k": [r[0] for r in rows], "f": [r[1] for r in rows], "kind": [r[2] for r in rows],
             "p": [r[3] for r in rows]})


async def _page_keys(conn: AsyncConnection, inp: PricePassInput, cursor: PricePassCursor) -> list:
    """The next page's keys from the trigger index (no lock); moves ``cursor`` past them."""
    keys = (await conn.execute(text(_keys_query(cursor.phase, cursor)), {
        "price": inp.usd_cents_per_btc, "t": cursor.trigger, "after": cursor.after, "n": inp.page_size})).all()
    if len(keys) < inp.page_size:
        cursor.phase, cursor.trigger, cursor.after = ("up" if cursor.phase == "down" else "done"), None, None
    else:
        cursor.trigger, cursor.after = keys[-1].trig, str(keys[-1].id)
    return keys


async def price_page(engine: AsyncEngine, inp: PricePassInput, keys: list[str], terms: _Terms) -> PricePassResult:
    """One page of the pass, in one transaction: lock the rows (id order), re-check each trigger on
    the locked row, decide, write set-based, store the signals; the page's counts."""
    price, result = inp.usd_cents_per_btc, PricePassResult(pages=1)
    async with engine.begin() as conn:
        rows = await _locked_rows(conn, keys)
        updates, signals = [], []
        stamp = inp.observed_at.isoformat()
        for r in rows:
            if not cvlmod.TriggerPrices(r.trigger_price_down, r.trigger_price_up).crossed(price):
                continue  # moved since the keys were read (a facility step, or this page run before)
            result.selected += 1
            if r.stage == Stage.PENDING.value:
                if r.pending_status == PendingStatus.PENDING_COLLATERALIZATION.value:
                    result.activations += 1
                    signals.append((f"price:{stamp}:{r.id}", str(r.id), "price_changed", PriceChanged(
                        usd_cents_per_btc=price, observed_at=inp.observed_at).model_dump_json()))
                continue
            if not _is_open_active(r):  # closed meanwhile: no trigger any more
                updates.append(RowUpdate(str(r.id), r.outstanding_cents, cvlmod.NO_TRIGGERS, r.collateral_sats))
                continue
            updates.append(_decide(r, terms[r.terms_text], r.outstanding_cents, price))
        changed = await write(conn, updates, reason="price", observed_at=inp.observed_at)
        result.state_changes += len(changed)
        result.triggers_fixed += len(updates) - len(changed)
        signals += [(f"price:{stamp}:{u.id}", u.id, COLLATERALIZATION_SIGNAL,
                     signal_of(u, "price").model_dump_json()) for u in changed]
        await _outbox(conn, signals)
    return result


def _add(total: PricePassResult, page: PricePassResult) -> None:
    for name in ("pages", "selected", "state_changes", "activations", "triggers_fixed"):
        setattr(total, name, getattr(total, name) + getattr(page, name))


async def run_price_pass(engine: AsyncEngine, inp: PricePassInput, cursor: PricePassCursor | None = None,
                         on_page=None) -> PricePassResult:
    """Every page, ``inp.concurrency`` at a time (disjoint rows, one connection each; the database
    uses every core), round after round; ``on_page(cursor)`` after each round (the activity
    heartbeats it: every page before the cursor has committed). One pass at a time: a session
    advisory lock, held for the whole pass; before each round the pass stops if a newer price was
    recorded meanwhile (its own pass, waiting on the lock, goes on from the stored states)."""
    cursor = cursor or PricePassCursor()
    terms = _Terms()
    async with engine.connect() as lock_conn:
        lock_conn = await lock_conn.execution_options(isolation_level="AUTOCOMMIT")
        await lock_conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": PASS_LOCK})
        try:
            while cursor.phase != "done":
                latest = await latest_price(lock_conn)
                if latest is not None and latest.changed_at > inp.observed_at:
                    cursor.result.superseded, cursor.phase = True, "done"
                    break
                scan, pages = cursor.model_copy(deep=True), []
                while len(pages) < (inp.concurrency or 1) and scan.phase != "done":
                    if keys := await _page_keys(lock_conn, inp, scan):
                        pages.append([str(k.id) for k in keys])
                for page in await asyncio.gather(*(price_page(engine, inp, keys, terms) for keys in pages)):
                    _add(scan.result, page)
                cursor.phase, cursor.trigger, cursor.after, cursor.result = (scan.phase, scan.trigger, scan.after,
                                                                             scan.result)
                if on_page is not None:
                    on_page(cursor)
        finally:
            await lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PASS_LOCK})
    return cursor.result


async def deliver(engine: AsyncEngine, client, result: PricePassResult, *, batch: int = 1000,
                  on_batch=None) -> None:
    """Signal every undelivered outbox row (oldest first), then mark it delivered. A missing or
    closed workflow is counted, not an error; a transient RPC failure is retried a few times, then
    raised (the rows stay undelivered for the retried activity)."""
    gate = asyncio.Semaphore(SIGNALS_IN_FLIGHT)

    async def one(facility_id: str, kind: str, payload: dict) -> bool:
        handle = client.get_workflow_handle(f"credit-facility-{facility_id}")
        arg = (CollateralizationSignal if kind == COLLATERALIZATION_SIGNAL else PriceChanged).model_validate(payload)
        async with gate:
            for attempt in range(SIGNAL_ATTEMPTS):
                try:
                    await handle.signal(kind, arg)
                    return True
                except RPCError as exc:
                    if exc.status == RPCStatusCode.NOT_FOUND:
                        return False
                    if exc.status not in _TRANSIENT or attempt == SIGNAL_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(0.2 * 2 ** attempt)
        return False

    while True:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT id, facility_id, kind, payload FROM credit_collateralization_signals"
                " WHERE delivered_at IS NULL ORDER BY id LIMIT :n"), {"n": batch})).all()
        if not rows:
            return
        sent = await asyncio.gather(*(one(str(r.facility_id), r.kind, r.payload) for r in rows))
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE credit_collateralization_signals SET delivered_at = now()"
                                    " WHERE id = ANY(CAST(:ids AS bigint[]))"), {"ids": [r.id for r in rows]})
        for r, ok in zip(rows, sent, strict=True):
            if ok and len(result.signalled_sample) < SAMPLE:
                result.signalled_sample.append(str(r.facility_id))
        result.signalled += sum(sent)
        result.not_delivered += len(sent) - sum(sent)
        if on_batch is not None:
            on_batch()


async def crossing_ids(conn: AsyncConnection, price_cents: int, *, page_size: int = 500) -> list[str]:
    """A dry run of the pass: the facilities a price event at ``price_cents`` would select (from the
    trigger indexes; pending ones only when awaiting collateral), sorted by id."""
    ids: set[str] = set()
    inp = PricePassInput(usd_cents_per_btc=price_cents, observed_at=datetime.now(UTC), page_size=page_size)
    for phase in ("down", "up"):
        cursor = PricePassCursor(phase=phase)
        while True:
            keys = await _page_keys(conn, inp, cursor)
            ids.update(str(k.id) for k in keys)
            if cursor.phase != phase:
                break
    return sorted(ids)


# --- the end of day -----------------------------------------------------------------------------------
async def outstanding_moved(conn: AsyncConnection, deltas: dict[str, int], business_date: date, *,
                            reason: str) -> list[FacilityEvent]:
    """The end of day moved these facilities' total outstanding (``+`` interest posted, ``-`` an
    obligation defaulted), in the step's page transaction: lock their rows (id order), store the new
    outstanding and trigger prices, and re-evaluate at the latest recorded price (none recorded:
    the triggers alone, the next price event decides). Returns an end-of-day event per changed state."""
    deltas = {k: v for k, v in deltas.items() if v}
    if not deltas:
        return []
    rows = await _locked_rows(conn, sorted(deltas))
    latest = await latest_price(conn)
    price = latest.usd_cents_per_btc if latest else None
    terms, updates = _Terms(), []
    for r in rows:
        outstanding = max(0, r.outstanding_cents + deltas[str(r.id)])
        if _is_open_active(r):
            updates.append(_decide(r, terms[r.terms_text], outstanding, price))
        else:  # not monitored (closed): the figure only
            updates.append(RowUpdate(str(r.id), outstanding, cvlmod.NO_TRIGGERS, r.collateral_sats))
    changed = await write(conn, updates, reason=reason)
    return [FacilityEvent(facility_id=u.id, kind=FacilityEventKind.COLLATERALIZATION_CHANGED,
                          business_date=business_date, detail=signal_of(u, reason).model_dump(mode="json"))
            for u in changed]
