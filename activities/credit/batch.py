"""How an end-of-day step runs one page (contract: ``domain.credit.end_of_day``).

A step is two functions: ``plan(conn, D, after, limit)`` selects the page's entities (rows locked,
keyset by id) and lets the domain decide for each one (its ledger postings and what to persist),
and ``persist(conn, D, items)`` writes the decisions set-based (events, read-model rows) and names
the facility events. ``run_step`` runs them in ONE transaction with every posting of the page and
the page's facility events (stored in the outbox, ``day_events``, signalled after the commit).

A refusal does not block the page. The domain's own refusal of an entity (during ``plan``) makes it
a failure at once. A ledger refusal aborts the transaction, so the page is planned again in a new
one and each entity's postings then run in a savepoint: the refused ones are reported and left out
(their rows untouched, so the next run selects them again), the rest commit. The fast path makes
no savepoint at all. A transient error (a lock, a concurrent append, the database away) is raised:
the activity retries the page, which is idempotent.

Postings go through ``post_all``: one ``ledger.post_many`` call (one round trip) per page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Table, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities import ledger
from activities.credit import day_events
from activities.ledger import PostedTransaction
from domain.accounting.fiscal import first_open_date
from domain.credit.end_of_day import FacilityEvent, Step, StepFailure, StepPage
from domain.errors import LanaError


@dataclass(frozen=True)
class Posting:
    template: str
    params: dict[str, Any]
    idempotency_key: str
    effective: date


@dataclass
class Item:
    """One entity's share of a page: its postings, and what ``persist`` writes for it."""

    entity_id: str
    postings: list[Posting]
    decision: Any
    posted: list[PostedTransaction] = field(default_factory=list)


@dataclass
class Plan:
    items: list[Item]
    failures: list[StepFailure]
    last_id: str | None  # the page's last selected id (the keyset cursor)
    selected: int


PlanFn = Callable[[AsyncConnection, date, str | None, int, str | None], Awaitable[Plan]]
PersistFn = Callable[[AsyncConnection, date, list[Item]], Awaitable[list[FacilityEvent]]]


async def post_all(conn: AsyncConnection, postings: Sequence[Posting]) -> list[PostedTransaction]:
    """Post in order inside the caller's transaction, in one round trip (``ledger.post_many``). A
    refusal of any of them is raised (the first one): the caller's transaction is then rolled back
    or, inside a savepoint, only that entity's postings are."""
    if not postings:
        return []
    results = await ledger.post_many(conn, [
        ledger.Posting(template_code=p.template, params=p.params, idempotency_key=p.idempotency_key,
                       effective=p.effective) for p in postings])
    refused = next((r for r in results if r.status == "refused"), None)
    if refused is not None:
        raise refused.error
    return [r.transaction for r in results]


def failure(entity_id: str, exc: Exception) -> StepFailure:
    if isinstance(exc, LanaError):
        return StepFailure(entity_id=entity_id, code=exc.code, message=exc.detail)
    return StepFailure(entity_id=entity_id, code="credit.end_of_day_step_failed", message=f"{type(exc).__name__}: {exc}")


_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "57")  # connection, rollback (deadlock, serialization), resources


def is_transient(exc: BaseException) -> bool:
    """Repeating the page may succeed: a transient domain error, or the database failing us (not
    a refusal, not a bug in one entity's data)."""
    if isinstance(exc, LanaError):
        return exc.transient
    if isinstance(exc, DBAPIError):
        state = getattr(exc.orig, "sqlstate", None) or getattr(getattr(exc.orig, "__cause__", None), "sqlstate", None)
        return exc.connection_invalidated or (state or "")[:2] in _TRANSIENT_SQLSTATE_CLASSES
    return isinstance(exc, OSError | TimeoutError)


def decide(plan: Plan, entity_id: str, fn: Callable[[], Item | None]) -> None:
    """Run the domain's decision for one entity; its refusal (or a bug in its data) is that
    entity's failure, never the page's."""
    try:
        item = fn()
    except Exception as exc:  # noqa: BLE001 - isolated by design: reported, the entity is retried next run
        if is_transient(exc):
            raise
        plan.failures.append(failure(entity_id, exc))
        return
    if item is not None:
        plan.items.append(item)


async def run_step(engine: AsyncEngine, step: Step, business_date: date, after: str | None, limit: int,
                   plan_fn: PlanFn, persist_fn: PersistFn, until: str | None = None) -> StepPage:
    """One page: the entities past ``after`` (up to ``limit``), or, with ``until``, exactly those
    in ``(after, until]`` (a range ``page_end`` measured: pages of one step may then run
    concurrently, each on its own range); the next page starts after ``next_after``."""
    try:
        async with engine.begin() as conn:
            plan = await plan_fn(conn, business_date, after, limit, until)
            posted = iter(await post_all(conn, [p for it in plan.items for p in it.postings]))
            for it in plan.items:
                it.posted = [next(posted) for _ in it.postings]
            events = await persist_fn(conn, business_date, plan.items)
            await day_events.store(conn, step, events)  # the outbox: signalled after the commit
    except Exception as exc:
        if is_transient(exc):
            raise
        async with engine.begin() as conn:  # again, each entity's postings in a savepoint
            plan = await plan_fn(conn, business_date, after, limit, until)
            done = []
            for it in plan.items:
                try:
                    async with conn.begin_nested():
                        it.posted = await post_all(conn, it.postings)
                except Exception as exc:  # noqa: BLE001 - isolated by design (see the module docstring)
                    if is_transient(exc):
                        raise
                    plan.failures.append(failure(it.entity_id, exc))
                    continue
                done.append(it)
            plan.items = done
            events = await persist_fn(conn, business_date, done)
            await day_events.store(conn, step, events)
    return StepPage(step=step, business_date=business_date, processed=len(plan.items), failures=plan.failures,
                    events=events, next_after=until if until is not None
                    else plan.last_id if plan.selected >= limit else None)


async def keyset_keys(conn: AsyncConnection, table: Table, key: str, where: Callable[[Any], list],
                      after: str | None, limit: int, until: str | None = None) -> list[str]:
    """The page's keys, alone: up to ``limit`` values of ``key`` past ``after`` in order (a narrow
    index scan, at worst a top-N sort of keys), or every one up to ``until``. The caller then joins
    and locks the rows of these keys only (``key_in``), so a day on which a hundred thousand rows
    are due never joins and sorts them all for every page. ``where(t)`` is the selection, on ``t``."""
    t = table.alias()
    q = select(t.c[key]).where(*where(t)).order_by(t.c[key])
    q = q.limit(limit) if until is None else q.where(t.c[key] <= until)
    return [str(k) for k in (await conn.execute(q if after is None else q.where(t.c[key] > after))).scalars()]


async def nth_key(conn: AsyncConnection, table: Table, key: str, where: Callable[[Any], list],
                  after: str | None, n: int) -> str | None:
    """The ``n``-th value of ``key`` past ``after`` in the selection ``where`` (where a page of
    ``n`` starting after ``after`` ends), or None when fewer remain: the page is the last."""
    t = table.alias()
    q = select(t.c[key]).where(*where(t)).order_by(t.c[key]).offset(n - 1).limit(1)
    found = (await conn.execute(q if after is None else q.where(t.c[key] > after))).scalar_one_or_none()
    return None if found is None else str(found)


def key_in(column: Any, keys: list[str]) -> Any:
    """``column = ANY(:keys)``: one array parameter, a primary-key lookup per key."""
    return column == any_(bindparam(None, keys, type_=ARRAY(UUID(as_uuid=False))))


async def open_date(conn: AsyncConnection) -> Callable[[date], date]:
    """The date a posting scheduled on ``d`` takes: ``d``, or the first day after the last closed
    period (``fiscal.first_open_date``); the journal's limit is read once per page."""
    closed = (await conn.execute(text("SELECT closed_through FROM ledger_journals WHERE id = :j"),
                                 {"j": ledger.DEFAULT_JOURNAL_ID})).scalar_one_or_none()
    return lambda d: first_open_date(d, closed)
