"""Posting: template → entries → ONE call of the SQL function ``ledger_post`` (one round trip).

``post`` accepts the caller's SQLAlchemy ``AsyncConnection`` (the posting joins the caller's DB
transaction, so entity events, read models and ledger commit together), an ``AsyncEngine``
(autocommit: the function call is its own transaction, one round trip), or a raw asyncpg
``Connection``/``Pool`` (the fast path used by the benchmark).

Idempotency: ``idempotency_key`` is UNIQUE. Re-posting with the same key and an identical request
(same template, version, parameters, effective date, metadata) returns the original transaction
(``replayed=True``) and writes nothing; a different request raises ``ledger.idempotency_conflict``.
The transaction id defaults to a UUIDv5 of the key, so retries reuse the same id.

``post_many`` posts many transactions in one call of ``ledger_post_batch`` (one round trip, one
PostgreSQL transaction). Each is posted, replayed or refused on its own, with the same idempotency
semantics as ``post``: a refused one (a template error, an overdraft, a closed period...) is
reported in its result and the others commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.ledger.accounts import DEFAULT_JOURNAL_ID
from activities.ledger.errors import map_db_error
from domain.errors import LanaError
from domain.ledger import catalogue
from domain.ledger.model import Entry, TxSpec

TX_NAMESPACE = uuid.UUID("6c1e6a52-8f5e-4f37-9d0b-4c2d1f9a0b11")

POST_SQL = (
    "SELECT tx_id, recorded_at, replayed, effective FROM ledger_post("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15, $16, $17)"
)
_POST_SA = text(
    "SELECT tx_id, recorded_at, replayed, effective FROM ledger_post(:a1, :a2, :a3, :a4, :a5, :a6, :a7, :a8, :a9,"
    " :a10, CAST(:a11 AS jsonb), :a12, :a13, :a14, :a15, :a16, :a17)"
)


@dataclass(frozen=True)
class PostedTransaction:
    id: uuid.UUID
    journal_id: uuid.UUID
    template_code: str
    template_version: int
    idempotency_key: str
    effective: dt.date
    description: str
    metadata: dict[str, Any]
    entries: tuple[Entry, ...]
    recorded_at: dt.datetime
    replayed: bool = False
    params: dict[str, Any] = field(default_factory=dict)


_BATCH_SQL = (
    "SELECT r_idx, r_tx_id, r_recorded_at, r_replayed, r_effective, r_code, r_message FROM ledger_post_batch("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb[], $12, $13, $14, $15, $16, $17, $18)"
)
_BATCH_SA = text(
    "SELECT r_idx, r_tx_id, r_recorded_at, r_replayed, r_effective, r_code, r_message FROM ledger_post_batch("
    ":a1, :a2, :a3, :a4, :a5, :a6, :a7, :a8, :a9, :a10, CAST(:a11 AS jsonb[]), :a12, :a13, :a14, :a15, :a16,"
    " :a17, :a18)"
)


@dataclass(frozen=True)
class Posting:
    """One transaction of a ``post_many`` call (the arguments of ``post``)."""

    template_code: str
    params: Mapping[str, Any]
    idempotency_key: str
    effective: dt.date | None = None
    tx_id: uuid.UUID | None = None
    metadata: dict[str, Any] | None = None
    template_version: int | None = None


@dataclass(frozen=True)
class PostingResult:
    """The outcome of one posting of a ``post_many`` call, at its index in the request list."""

    index: int
    status: Literal["posted", "replayed", "refused"]
    transaction: PostedTransaction | None = None
    error: LanaError | None = None


@dataclass(frozen=True)
class _Prepared:
    tpl_code: str
    tpl_version: int
    bound: dict[str, Any]
    spec: TxSpec
    tx_id: uuid.UUID
    meta: dict[str, Any]
    request_hash: str
    effective: dt.date


# json.dumps(payload, sort_keys=True, default=str), without building an encoder per call (a batch
# of 500 postings hashes 500 requests): the same JSON text, so the same stored request_hash.
_ENCODER = json.JSONEncoder(sort_keys=True, default=str)


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(_ENCODER.encode(payload).encode()).hexdigest()


def _prepare(template_code: str, params: Mapping[str, Any], idempotency_key: str, effective: dt.date | None,
             tx_id: uuid.UUID | None, journal_id: uuid.UUID, metadata: dict[str, Any] | None,
             template_version: int | None) -> _Prepared:
    """Evaluate the template and hash the request (raises the domain's refusals)."""
    tpl = catalogue.template(template_code, template_version)
    bound, spec = tpl.evaluate(params)
    tx_id = tx_id or uuid.uuid5(TX_NAMESPACE, idempotency_key)
    meta = {**spec.metadata, **(metadata or {})}
    # The hash covers the effective date only when the caller chose it: a retry after midnight of
    # a posting that defaulted to "today" is still the same request (and replays the original).
    request_hash = _hash({"tx": tx_id, "journal": journal_id, "code": tpl.code, "version": tpl.version,
                          "params": bound, "effective": effective, "meta": meta})
    return _Prepared(tpl.code, tpl.version, bound, spec, tx_id, meta, request_hash,
                     effective or dt.datetime.now(dt.UTC).date())


def _posted(p: _Prepared, idempotency_key: str, journal_id: uuid.UUID, tx_id: uuid.UUID,
            recorded_at: dt.datetime, replayed: bool, effective: dt.date) -> PostedTransaction:
    return PostedTransaction(
        id=tx_id, journal_id=journal_id, template_code=p.tpl_code, template_version=p.tpl_version,
        idempotency_key=idempotency_key, effective=effective, description=p.spec.description, metadata=p.meta,
        entries=p.spec.entries, recorded_at=recorded_at, replayed=replayed, params=p.bound,
    )


async def post(
    db: AsyncConnection | AsyncEngine | asyncpg.Connection | asyncpg.Pool,
    template_code: str,
    params: dict[str, Any],
    *,
    idempotency_key: str,
    effective: dt.date | None = None,
    tx_id: uuid.UUID | None = None,
    journal_id: uuid.UUID = DEFAULT_JOURNAL_ID,
    metadata: dict[str, Any] | None = None,
    template_version: int | None = None,
) -> PostedTransaction:
    """Post template ``template_code`` with ``params``; see the module docstring."""
    p = _prepare(template_code, params, idempotency_key, effective, tx_id, journal_id, metadata, template_version)
    es = p.spec.entries
    args = [
        p.tx_id, journal_id, p.tpl_code, p.tpl_version, idempotency_key, p.request_hash, p.spec.external_id,
        p.spec.correlation_id, p.effective, p.spec.description,
        json.dumps(p.meta, default=str) if p.meta else "{}",
        [e.account_id for e in es], [str(e.currency) for e in es], [e.units for e in es],
        [str(e.direction) for e in es], [str(e.layer) for e in es], [e.entry_type for e in es],
    ]
    row = await _call(db, args)
    return _posted(p, idempotency_key, journal_id, row[0], row[1], row[2], row[3])


async def post_many(
    db: AsyncConnection | AsyncEngine | asyncpg.Connection | asyncpg.Pool,
    postings: Sequence[Posting],
    *,
    journal_id: uuid.UUID = DEFAULT_JOURNAL_ID,
) -> list[PostingResult]:
    """Post every item of ``postings`` in one round trip; one result per item, in order.

    Each item is all-or-nothing on its own: ``posted``, ``replayed`` (its key was used by the same
    request, here or before) or ``refused`` with the mapped domain error (``ledger.*``, or a
    template's own refusal, which never reaches the database). Accepts any objects with the
    attributes of :class:`Posting` (the ``ledger.post`` activity's request works). Items are
    decided in order, so a later item under the key of an earlier posted one replays it.
    """
    results: list[PostingResult | None] = [None] * len(postings)
    sent: list[tuple[int, Any, _Prepared]] = []
    for i, item in enumerate(postings):
        try:
            sent.append((i, item, _prepare(
                item.template_code, item.params, item.idempotency_key, item.effective,
                getattr(item, "tx_id", None), journal_id, item.metadata,
                getattr(item, "template_version", None))))
        except LanaError as exc:
            results[i] = PostingResult(i, "refused", error=exc)
    if sent:
        entry_tx, entries = [], []
        for n, (_, _, p) in enumerate(sent, start=1):
            entry_tx += [n] * len(p.spec.entries)
            entries += p.spec.entries
        args = [
            journal_id, [p.tx_id for _, _, p in sent], [p.tpl_code for _, _, p in sent],
            [p.tpl_version for _, _, p in sent], [item.idempotency_key for _, item, _ in sent],
            [p.request_hash for _, _, p in sent], [p.spec.external_id for _, _, p in sent],
            [p.spec.correlation_id for _, _, p in sent], [p.effective for _, _, p in sent],
            [p.spec.description for _, _, p in sent],
            [json.dumps(p.meta, default=str) if p.meta else "{}" for _, _, p in sent],
            entry_tx, [e.account_id for e in entries], [str(e.currency) for e in entries],
            [e.units for e in entries], [str(e.direction) for e in entries], [str(e.layer) for e in entries],
            [e.entry_type for e in entries],
        ]
        for row in await _call(db, args, many=True):
            i, item, p = sent[row[0] - 1]
            if row[5] is not None:
                error = map_db_error(SimpleNamespace(sqlstate=row[5], message=row[6]))
                results[i] = PostingResult(i, "refused", error=error)
            else:
                results[i] = PostingResult(i, "replayed" if row[3] else "posted", _posted(
                    p, item.idempotency_key, journal_id, row[1], row[2], row[3], row[4]))
    return results  # type: ignore[return-value]


async def _call(db: Any, args: list[Any], many: bool = False) -> Any:
    """``ledger_post`` (one row) or, with ``many``, ``ledger_post_batch`` (its rows), mapping errors."""
    if isinstance(db, asyncpg.Pool | asyncpg.Connection):
        try:
            if many:
                return await db.fetch(_BATCH_SQL, *args)
            row = await db.fetchrow(POST_SQL, *args)
        except asyncpg.PostgresError as exc:
            mapped = map_db_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return tuple(row)
    named = {f"a{i + 1}": v for i, v in enumerate(args)}
    stmt = _BATCH_SA if many else _POST_SA
    try:
        if isinstance(db, AsyncEngine):
            async with db.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                result = await conn.execute(stmt, named)
                return result.all() if many else tuple(result.one())
        result = await db.execute(stmt, named)
        return result.all() if many else tuple(result.one())
    except DBAPIError as exc:
        mapped = map_db_error(exc.orig.__cause__ or exc.orig)
        if mapped is None:
            raise
        raise mapped from exc
