"""Temporal activity for workflows that only need to post (modules that also write entity events
call ``activities.ledger.post`` inside their own activity's DB transaction instead)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.boundary import lana_activity
from activities.ledger.posting import post, post_many


class PostRequest(BaseModel):
    template_code: str
    params: dict[str, Any]
    idempotency_key: str  # from business identity, e.g. "withdrawal:{id}:initiate"
    effective: dt.date | None = None
    metadata: dict[str, Any] = {}


class PostResult(BaseModel):
    id: uuid.UUID
    recorded_at: dt.datetime
    replayed: bool


class PostManyRequest(BaseModel):
    postings: list[PostRequest]


class PostManyItem(BaseModel):
    """One posting's outcome: ``posted``/``replayed`` with its transaction, or ``refused`` with the
    stable error code and detail (a refusal is a result here, not an activity failure)."""

    index: int
    status: str
    id: uuid.UUID | None = None
    recorded_at: dt.datetime | None = None
    replayed: bool = False
    error_code: str | None = None
    error_detail: str | None = None


class LedgerActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @lana_activity("ledger.post")
    async def post(self, req: PostRequest) -> PostResult:
        """Post by template; a retry with the same key returns the original transaction."""
        tx = await post(self.engine, req.template_code, req.params, idempotency_key=req.idempotency_key,
                        effective=req.effective, metadata=req.metadata)
        return PostResult(id=tx.id, recorded_at=tx.recorded_at, replayed=tx.replayed)

    @lana_activity("ledger.post_many")
    async def post_many(self, req: PostManyRequest) -> list[PostManyItem]:
        """Post many in one round trip; each posting posted, replayed or refused on its own."""
        out = []
        for r in await post_many(self.engine, req.postings):
            tx = r.transaction
            out.append(PostManyItem(index=r.index, status=r.status, id=tx and tx.id, recorded_at=tx and tx.recorded_at,
                                    replayed=bool(tx and tx.replayed), error_code=r.error and r.error.code,
                                    error_detail=r.error and r.error.detail))
        return out
