"""Bulk seeding of N active facilities for the end-of-day benchmarks: set-based SQL, no operation
per facility (``lana bench eod``, ``lana bench eod-steps``).

One facility (the *template*) is made through the credit operations; ``seed_facilities`` then
copies every row its proposal, approval, collateral, activation and initial disbursal left behind,
N times, one ``INSERT … SELECT`` per table and chunk of clones:

- credit: the facility row, its disbursal, accrual cycle, principal obligation, collateral update
  and collateralization history; the events of its four streams (facility, disbursal, cycle,
  obligation), with their sequences;
- ledger: the facility's 13 accounts with their product-set memberships, balance rows and balance
  history, the 4 transactions (proposal, collateral, activation, initial disbursal) and all their
  entries, including those on the bank's shared accounts (the omnibus accounts and the customer's
  deposit account), whose balance rows then take N times the template's movements (one history row
  per chunk), so every account's balance is still the sum of its entries and the trial balance
  still nets to zero (``check_ledger``).

A clone's ids are derived exactly as the real code derives them from a new facility id (uuid4):
collateral, disbursal, first cycle and principal obligation by their UUIDv5 (``domain.credit``),
account ids by ``facility_accounts.account_id``, transaction ids by the UUIDv5 of the clone's
idempotency key. Every id and every text or JSON column naming one (account codes and names,
external ids, idempotency keys, references, event payloads, the facility's ``accounts``) is
rewritten to the clone's. ``_derive`` is checked against the template first: a per-facility
entity this seeder does not know (a table with a ``facility_id`` column and template rows) stops
it rather than seeding half a facility.

Left out on purpose: the customer and the deposit account (every clone is one more facility of the
template's customer), the authorization audit entries (a hash chain of decisions, not facility
state) and the ``workflow_starts`` row (the sweeper would start a facility workflow per clone). A
seeded transaction keeps the template's ``request_hash``, so re-posting a seeded facility's
activation under its key would be an idempotency conflict, not a replay; nothing the end of day
does posts those keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.credit import facility_accounts as fa
from activities.ledger.posting import TX_NAMESPACE
from domain.credit.accrual_cycle import AccrualCycle

CHUNK = 5_000

# (table, which of its rows are the template's), in foreign-key order.
_TABLES = [
    ("credit_facilities", "id = ANY(CAST(:fac AS uuid[]))"),
    ("credit_disbursals", "facility_id = ANY(CAST(:fac AS uuid[]))"),
    ("credit_accrual_cycles", "facility_id = ANY(CAST(:fac AS uuid[]))"),
    ("credit_obligations", "facility_id = ANY(CAST(:fac AS uuid[]))"),
    ("credit_interest_accruals", "facility_id = ANY(CAST(:fac AS uuid[]))"),
    ("credit_payments", "facility_id = ANY(CAST(:fac AS uuid[]))"),
    ("credit_payment_allocations", "facility_id = ANY(CAST(:fac AS uuid[]))"),
    ("credit_collateral_updates", "facility_id = ANY(CAST(:fac AS uuid[]))"),
    ("credit_collateralization_history", "facility_id = ANY(CAST(:fac AS uuid[]))"),
    ("credit_collateralization_triggers", "facility_id = ANY(CAST(:fac AS uuid[]))"),
    ("ledger_accounts", "id = ANY(CAST(:accounts AS uuid[]))"),
    ("ledger_set_members", "member_account_id = ANY(CAST(:accounts AS uuid[]))"),
    ("ledger_current_balances", "account_id = ANY(CAST(:accounts AS uuid[]))"),
    ("ledger_balance_history", "account_id = ANY(CAST(:accounts AS uuid[]))"),
    ("ledger_transactions", "id = ANY(CAST(:txs AS uuid[]))"),
    ("ledger_entries", "transaction_id = ANY(CAST(:txs AS uuid[]))"),
    ("events", "entity_id = ANY(CAST(:streams AS text[]))"),
]
# Tables with a facility_id whose template rows are deliberately not copied (see the docstring).
_NOT_COPIED = {"workflow_starts", "end_of_day_events"}
# The one payment a template may carry (``lana bench reports``): its id is derived from the
# facility's like the other entities', so every clone has its own (``payment_id_for``).
PAYMENT_NAME = "bench-payment"


def _uuid5(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))`` at a quarter of its cost (a million of them per seed)."""
    x = int.from_bytes(hashlib.sha1(namespace + name.encode()).digest()[:16], "big")
    x = (x & ~(0xF000 << 64)) | (0x5000 << 64)  # version 5
    x = (x & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{x:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def payment_id_for(fid: str) -> str:
    """The id of the template's payment (and each clone's): derived from the facility's."""
    return str(uuid.uuid5(uuid.UUID(fid), PAYMENT_NAME))


def _derive(fid: str, roles: list[str], paid: bool = False) -> dict[str, str]:
    """A facility's own ids from its id, as the credit code derives them (checked against it on
    the template: ``_check_derivation``); ``roles``: its own account roles; ``paid``: it carries the
    bench payment (principal allocation id as ``Obligation.allocate`` derives it)."""
    f = uuid.UUID(fid).bytes
    ids = {"facility": fid, "collateral": _uuid5(f, "collateral"), "disbursal": _uuid5(f, "initial-disbursal"),
           "cycle": _uuid5(f, "accrual-cycle:1")}
    ids["obligation"] = _uuid5(uuid.UUID(ids["disbursal"]).bytes, "obligation")
    if paid:
        ids["payment"] = _uuid5(f, PAYMENT_NAME)
        ids["allocation"] = _uuid5(uuid.UUID(ids["payment"]).bytes, f"allocation:{ids['obligation']}")
    for role in roles:
        ids[f"account:{role}"] = _uuid5(fa.ACCOUNT_NAMESPACE.bytes, f"{fid}:{fa.ACCOUNT_SLUGS[role]}")
    return ids


def _check_derivation(fid: str, roles: list[str], paid: bool = False) -> dict[str, str]:
    """``_derive`` against the credit code's own derivations."""
    real = {"facility": fid, "collateral": str(uuid.uuid5(uuid.UUID(fid), "collateral")),
            "disbursal": str(uuid.uuid5(uuid.UUID(fid), "initial-disbursal")),
            "cycle": AccrualCycle.id_for(fid, 1)}
    real["obligation"] = str(uuid.uuid5(uuid.UUID(real["disbursal"]), "obligation"))
    if paid:
        real["payment"] = payment_id_for(fid)
        real["allocation"] = str(uuid.uuid5(uuid.UUID(real["payment"]), f"allocation:{real['obligation']}"))
    real.update({f"account:{r}": str(fa.account_id(fid, fa.ACCOUNT_SLUGS[r])) for r in roles})
    if _derive(fid, roles, paid) != real:
        raise RuntimeError("the seeder's id derivation no longer matches the credit code's")
    return real


@dataclass
class _Template:
    fid: str
    ids: dict[str, str]  # name → the template's id (its own entities and accounts)
    keys: dict[str, str]  # its transactions: id → idempotency key
    shared: list[tuple[str, str, str]]  # (account, currency, the template's last transaction on it)
    rows: dict[str, list[dict[str, Any]]]
    columns: dict[str, list[tuple[str, str]]]  # table → (column, data type) copied

    @property
    def index(self) -> dict[str, int]:
        return {old: i for i, old in enumerate(self.owned)}

    @property
    def pattern(self) -> re.Pattern:
        return re.compile("(" + "|".join(re.escape(old) for old in self.owned) + ")")

    @property
    def paid(self) -> bool:
        return "payment" in self.ids

    @property
    def roles(self) -> list[str]:
        return [k.removeprefix("account:") for k in self.ids if k.startswith("account:")]

    @property
    def owned(self) -> list[str]:
        return [*self.ids.values(), *self.keys]

    def params(self) -> dict[str, Any]:
        return {"fac": [self.fid], "accounts": [self.ids[f"account:{r}"] for r in self.roles], "txs": list(self.keys),
                "streams": [self.ids[k] for k in ("facility", "disbursal", "cycle", "obligation", "payment")
                            if k in self.ids]}


async def _load_template(conn: AsyncConnection, template: str) -> _Template:
    accounts = (await conn.execute(text("SELECT accounts FROM credit_facilities WHERE id = :f"),
                                   {"f": template})).scalar_one()
    own = {role: a for role, a in accounts.items() if not role.endswith("omnibus")}
    payments = (await conn.execute(text("SELECT count(*) FROM credit_payments WHERE facility_id = :f"),
                                   {"f": template})).scalar_one()
    if payments > 1:
        raise RuntimeError("the seeder copies at most one payment (the bench payment) per template")
    ids = _check_derivation(template, list(own), paid=payments == 1)
    actual = {"facility": template, **{f"account:{r}": a for r, a in own.items()}}
    lookups = [("collateral", "SELECT collateral_id FROM credit_facilities WHERE id = :f"),
               ("disbursal", "SELECT id FROM credit_disbursals WHERE facility_id = :f"),
               ("cycle", "SELECT id FROM credit_accrual_cycles WHERE facility_id = :f"),
               ("obligation", "SELECT id FROM credit_obligations WHERE facility_id = :f")]
    if payments:
        lookups += [("payment", "SELECT id FROM credit_payments WHERE facility_id = :f"),
                    ("allocation", "SELECT id FROM credit_payment_allocations WHERE facility_id = :f")]
    for name, sql in lookups:
        actual[name] = str((await conn.execute(text(sql), {"f": template})).scalar_one())
    if actual != ids:
        raise RuntimeError(f"the template's ids are not the derived ones: {actual} vs {ids}")
    mine = [ids[f"account:{r}"] for r in own]
    keys = {str(r.id): r.idempotency_key for r in await conn.execute(text(
        "SELECT t.id, t.idempotency_key FROM ledger_transactions t WHERE t.id IN (SELECT e.transaction_id"
        " FROM ledger_entries e WHERE e.account_id = ANY(CAST(:a AS uuid[]))) ORDER BY t.recorded_at"), {"a": mine})}
    entity_ids = set(ids.values())  # a payment's and an allocation's transaction carry their entity's id
    if any(str(uuid.uuid5(TX_NAMESPACE, k)) != i and i not in entity_ids for i, k in keys.items()):
        raise RuntimeError("a template transaction's id is neither the UUIDv5 of its idempotency key nor an entity's")
    shared = [(str(r.account_id), r.currency, str(r.tx)) for r in await conn.execute(text(
        "SELECT DISTINCT ON (e.account_id, e.currency) e.account_id, e.currency, e.transaction_id AS tx"
        " FROM ledger_entries e WHERE e.transaction_id = ANY(CAST(:t AS uuid[]))"
        " AND NOT e.account_id = ANY(CAST(:a AS uuid[])) ORDER BY e.account_id, e.currency, e.recorded_at DESC"),
        {"t": list(keys), "a": mine})]
    t = _Template(template, ids, keys, shared, {}, {})
    for table, where in _TABLES:
        cols = (await conn.execute(text(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = :t AND is_generated = 'NEVER' AND is_identity = 'NO'"
            " AND coalesce(column_default, '') NOT LIKE 'nextval(%' ORDER BY ordinal_position"), {"t": table})).all()
        t.columns[table] = [(c.column_name, c.data_type) for c in cols]
        t.rows[table] = [dict(r._mapping) for r in await conn.execute(text(
            "SELECT " + ", ".join(f"CAST(s.{c.column_name} AS text) AS {c.column_name}" for c in cols)
            + f", row_number() OVER (ORDER BY s.ctid) AS rn FROM {table} s WHERE s.{where}"), t.params())]
    copied = {table for table, _ in _TABLES} | _NOT_COPIED
    for (table,) in (await conn.execute(text(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND column_name = 'facility_id'"))).all():
        if table not in copied and (await conn.execute(text(
                f"SELECT EXISTS (SELECT 1 FROM {table} WHERE CAST(facility_id AS text) = :f)"), {"f": template})).scalar():
            raise RuntimeError(f"{table} has rows of the template facility that the seeder does not copy")
    return t


def _literal(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def _value(t: _Template, row: dict[str, Any], column: str, dtype: str) -> str:
    """The clone's value of one template row's ``column``: the template's, with each id of the
    template it holds (its value, or inside text or JSON) the clone's (``bench_ids``: column
    ``u{i}`` the clone's id in place of ``owned[i]``, ``t{i}`` the same as text). Text is rebuilt
    by concatenation around the ids (no search per row)."""
    v = row[column]
    if v is None:
        return f"s.{column}"
    if dtype == "uuid":
        i = t.index.get(v)
        return f"b.u{i}" if i is not None else f"s.{column}"
    if dtype not in ("text", "character varying", "jsonb", "json"):
        return f"s.{column}"
    parts = t.pattern.split(v)
    if len(parts) == 1:
        return f"s.{column}"
    expr = " || ".join(f"b.t{t.index[p]}" if k % 2 else _literal(p) for k, p in enumerate(parts) if p or k % 2)
    return f"CAST({expr} AS {dtype})" if dtype in ("jsonb", "json") else f"({expr})"


def _clone_ids(t: _Template, n: int) -> list[tuple[str, ...]]:
    """n rows of new ids, in the order of ``owned``: a new facility id (uuid4) and everything
    derived from it, the transactions' ids from their keys (each key names one or two ids)."""
    roles, paid = t.roles, t.paid
    entity_of = {old: k for k, old in t.ids.items()}
    key_ids = [(tx_id, key, [(k, old) for k, old in t.ids.items() if old in key]) for tx_id, key in t.keys.items()]
    rows = []
    for _ in range(n):
        new = _derive(str(uuid.uuid4()), roles, paid)
        tx = []
        for tx_id, key, names in key_ids:
            if tx_id in entity_of:  # the transaction carries its entity's id (a payment, an allocation)
                tx.append(new[entity_of[tx_id]])
                continue
            for k, old in names:
                key = key.replace(old, new[k])
            tx.append(_uuid5(TX_NAMESPACE.bytes, key))
        rows.append((*new.values(), *tx))
    return rows


async def _secondary_indexes(conn: AsyncConnection) -> list[tuple[str, str]]:
    """(name, definition) of the seeded tables' indexes that back no constraint: dropped while
    seeding and built again after it (one sort each instead of millions of random-key inserts)."""
    rows = await conn.execute(text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public'"
        " AND i.tablename = ANY(:t) AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
        " WHERE c.conindid = CAST(quote_ident(i.indexname) AS regclass))"), {"t": [tb for tb, _ in _TABLES]})
    return [(r.indexname, r.indexdef) for r in rows]


async def _seed_chunk(conn: AsyncConnection, t: _Template, ids: list[tuple[str, ...]], times: dict[str, float]) -> None:
    m = len(t.owned)
    cols = [f"u{i}" for i in range(m)] + [f"t{i}" for i in range(m)]
    await conn.execute(text("CREATE TEMP TABLE bench_ids (" + ", ".join(
        f"{c} {'uuid' if c[0] == 'u' else 'text'}" for c in cols) + ") ON COMMIT DROP"))
    raw = (await conn.get_raw_connection()).driver_connection
    await raw.copy_records_to_table("bench_ids", records=[r + r for r in ids], columns=cols)
    for table, _ in _TABLES:
        cs = t.columns[table]
        t0 = time.perf_counter()
        for row in t.rows[table]:  # one statement per template row: its ids at fixed places
            await conn.exec_driver_sql(  # literals inside: no bind parameters
                f"INSERT INTO {table} ({', '.join(c for c, _ in cs)})"
                f" SELECT {', '.join(_value(t, row, c, d) for c, d in cs)} FROM bench_tpl_{table} s"
                f" CROSS JOIN bench_ids b WHERE s.rn = {row['rn']}")
        times[table] = times.get(table, 0.0) + time.perf_counter() - t0


async def _shared_accounts(conn: AsyncConnection, t: _Template, n: int, last: tuple[str, ...]) -> None:
    """The bank's shared accounts (omnibus, the customer's deposit account): ``n`` times the
    template's movements on their balance rows, one history row each (its transaction: the last
    clone's)."""
    last_of = dict(zip(t.owned, last, strict=True))
    sums = ", ".join(f"coalesce(sum(units) FILTER (WHERE layer = '{layer}' AND direction = '{side}'), 0) AS {col}"
                     for layer, p in (("settled", "s"), ("pending", "p"), ("encumbrance", "e"))
                     for side, col in (("debit", p + "dr"), ("credit", p + "cr")))
    for account, currency, tx in t.shared:
        await conn.execute(text(
            "UPDATE ledger_current_balances cb SET settled_dr = cb.settled_dr + :n * d.sdr,"
            " settled_cr = cb.settled_cr + :n * d.scr, pending_dr = cb.pending_dr + :n * d.pdr,"
            " pending_cr = cb.pending_cr + :n * d.pcr, encumbrance_dr = cb.encumbrance_dr + :n * d.edr,"
            " encumbrance_cr = cb.encumbrance_cr + :n * d.ecr, version = cb.version + :n * d.v,"
            f" modified_at = clock_timestamp() FROM (SELECT {sums}, count(DISTINCT transaction_id) AS v"
            " FROM bench_tpl_ledger_entries WHERE account_id = :a AND currency = :c) d"
            " WHERE cb.account_id = :a AND cb.currency = :c AND cb.stripe = 0"), {"n": n, "a": account, "c": currency})
        await conn.execute(text(
            "INSERT INTO ledger_balance_history (account_id, currency, stripe, version, transaction_id, recorded_at,"
            " settled_dr, settled_cr, pending_dr, pending_cr, encumbrance_dr, encumbrance_cr)"
            " SELECT account_id, currency, stripe, version, :tx, modified_at, settled_dr, settled_cr, pending_dr,"
            " pending_cr, encumbrance_dr, encumbrance_cr FROM ledger_current_balances"
            " WHERE account_id = :a AND currency = :c AND stripe = 0"), {"a": account, "c": currency, "tx": last_of[tx]})


async def seed_facilities(engine: AsyncEngine, template: str, n: int, *, chunk: int = CHUNK,
                          sessions: int = 2) -> dict[str, float]:
    """``n`` copies of the active facility ``template`` (see the module docstring), ``chunk``
    clones per transaction, ``sessions`` chunks at a time (each its own connection; a chunk's ids
    are computed in a thread while the other session writes). The template's rows are copied once
    into scratch tables (the chunks read those, never the growing tables); the seeded tables'
    secondary indexes are dropped first and built again at the end, then VACUUM ANALYZE (fresh
    statistics and visibility map for the steps' index-only reads). Returns seconds per phase
    (insert times summed over the sessions)."""
    times: dict[str, float] = {}
    async with engine.connect() as conn:
        t = await _load_template(conn, template)
        indexes = await _secondary_indexes(conn)
        for table, where in _TABLES:
            await conn.execute(text(f"CREATE UNLOGGED TABLE bench_tpl_{table} AS SELECT s.*, row_number() OVER"
                                    f" (ORDER BY s.ctid) AS rn FROM {table} s WHERE s.{where}"), t.params())
        for name, _ in indexes:
            await conn.execute(text(f"DROP INDEX {name}"))
        await conn.commit()
    sizes = iter([min(chunk, n - i) for i in range(0, n, chunk)])
    last: list[tuple[str, ...]] = []

    async def session() -> None:
        async with engine.connect() as conn:
            while (size := next(sizes, None)) is not None:
                ids = await asyncio.to_thread(_clone_ids, t, size)
                await conn.execute(text("SET LOCAL synchronous_commit = off"))  # a bench's seed: one flush at the end
                # No FK triggers: a clone refers to its own rows and to the shared ones.
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
                await _seed_chunk(conn, t, ids, times)
                await conn.commit()
                last[:] = [ids[-1]]

    await asyncio.gather(*(session() for _ in range(sessions)))
    async with engine.connect() as conn:
        if n:
            await _shared_accounts(conn, t, n, last[0])
        for table, _ in _TABLES:
            await conn.execute(text(f"DROP TABLE bench_tpl_{table}"))
        await conn.commit()
    t0 = time.perf_counter()
    defs = iter(d for _, d in indexes)

    async def build() -> None:
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("SET maintenance_work_mem = '256MB'"))
            while (definition := next(defs, None)) is not None:
                await conn.execute(text(definition))

    await asyncio.gather(*(build() for _ in range(sessions)))
    times["indexes"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE " + ", ".join(table for table, _ in _TABLES)))
    times["vacuum"] = time.perf_counter() - t0
    return times


async def check_ledger(conn: AsyncConnection) -> list[str]:
    """What is wrong with the books, if anything: the trial balance per currency and layer (debits
    − credits over every balance row, which must be 0), and accounts whose balance is not the sum
    of their entries."""
    problems = []
    for r in await conn.execute(text(
            "SELECT currency, sum(settled_dr - settled_cr) AS s, sum(pending_dr - pending_cr) AS p,"
            " sum(encumbrance_dr - encumbrance_cr) AS e FROM ledger_current_balances GROUP BY currency")):
        if (r.s, r.p, r.e) != (0, 0, 0):
            problems.append(f"trial balance {r.currency}: settled {r.s}, pending {r.p}, encumbrance {r.e}")
    bad = (await conn.execute(text(
        "SELECT count(*) FROM (SELECT account_id, currency, sum(settled_dr) sdr, sum(settled_cr) scr,"
        " sum(pending_dr) pdr, sum(pending_cr) pcr, sum(encumbrance_dr) edr, sum(encumbrance_cr) ecr"
        " FROM ledger_current_balances GROUP BY 1, 2) b FULL JOIN (SELECT account_id, currency," + ", ".join(
            f" coalesce(sum(units) FILTER (WHERE layer = '{layer}' AND direction = '{side}'), 0) {col}"
            for layer, p in (("settled", "s"), ("pending", "p"), ("encumbrance", "e"))
            for side, col in (("debit", p + "dr"), ("credit", p + "cr")))
        + " FROM ledger_entries GROUP BY 1, 2) e USING (account_id, currency)"
        " WHERE (coalesce(b.sdr, 0), coalesce(b.scr, 0), coalesce(b.pdr, 0), coalesce(b.pcr, 0),"
        " coalesce(b.edr, 0), coalesce(b.ecr, 0)) IS DISTINCT FROM (coalesce(e.sdr, 0), coalesce(e.scr, 0),"
        " coalesce(e.pdr, 0), coalesce(e.pcr, 0), coalesce(e.edr, 0), coalesce(e.ecr, 0))"))).scalar_one()
    if bad:
        problems.append(f"{bad} (account, currency) balances differ from the sum of their entries")
    return problems
