"""Posting: template → entries → ONE call of the SQL function ``ledger_post`` (one round trip).

``post`` accepts the caller's SQLAlchemy ``AsyncConnection`` (the posting joins the caller's DB
transaction, so entity events, read models and ledger commit together), an ``AsyncEngine``
(autocommit: the function call is its own transaction, one round trip), or a raw asyncpg
``Connection``/``Pool`` (the fast path used by the benchmark).

Idempotency: ``idempotency_key`` is UNIQUE. Re-posting with the same key and an identical request
(same template, version, parameters, effective date, metadata) returns the original transaction
(``replayed=True``) and writes nothing; a different request raises ``ledger.idempotency_conflict``.
The transaction id defaults to a UUIDv5 of the key, so retries reuse the same id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.ledger.accounts import DEFAULT_JOURNAL_ID
from activities.ledger.errors import map_db_error
from domain.ledger import catalogue
from domain.ledger.model import Entry

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


def _hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


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
    tpl = catalogue.template(template_code, template_version)
    bound, spec = tpl.evaluate(params)
    tx_id = tx_id or uuid.uuid5(TX_NAMESPACE, idempotency_key)
    meta = {**spec.metadata, **(metadata or {})}
    # The hash covers the effective date only when the caller chose it: a retry after midnight of
    # a posting that defaulted to "today" is still the same request (and replays the original).
    request_hash = _hash({"tx": tx_id, "journal": journal_id, "code": tpl.code, "version": tpl.version,
                          "params": bound, "effective": effective, "meta": meta})
    effective = effective or dt.datetime.now(dt.UTC).date()
    es = spec.entries
    args = [
        tx_id, journal_id, tpl.code, tpl.version, idempotency_key, request_hash, spec.external_id,
        spec.correlation_id, effective, spec.description, json.dumps(meta, default=str),
        [e.account_id for e in es], [str(e.currency) for e in es], [e.units for e in es],
        [str(e.direction) for e in es], [str(e.layer) for e in es], [e.entry_type for e in es],
    ]
    row = await _call(db, args)
    return PostedTransaction(
        id=row[0], journal_id=journal_id, template_code=tpl.code, template_version=tpl.version,
        idempotency_key=idempotency_key, effective=row[3], description=spec.description, metadata=meta,
        entries=es, recorded_at=row[1], replayed=row[2], params=bound,
    )


async def _call(db: Any, args: list[Any]) -> tuple[Any, ...]:
    if isinstance(db, asyncpg.Pool | asyncpg.Connection):
        try:
            row = await db.fetchrow(POST_SQL, *args)
        except asyncpg.PostgresError as exc:
            mapped = map_db_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return tuple(row)
    named = {f"a{i + 1}": v for i, v in enumerate(args)}
    try:
        if isinstance(db, AsyncEngine):
            async with db.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                return tuple((await conn.execute(_POST_SA, named)).one())
        return tuple((await db.execute(_POST_SA, named)).one())
    except DBAPIError as exc:
        mapped = map_db_error(exc.orig.__cause__ or exc.orig)
        if mapped is None:
            raise
        raise mapped from exc
