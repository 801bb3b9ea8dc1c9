"""Temporal activity for workflows that only need to post (modules that also write entity events
call ``activities.ledger.post`` inside their own activity's DB transaction instead)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.boundary import lana_activity
from activities.ledger.posting import post


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


class LedgerActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @lana_activity("ledger.post")
    async def post(self, req: PostRequest) -> PostResult:
        """Post by template; a retry with the same key returns the original transaction."""
        tx = await post(self.engine, req.template_code, req.params, idempotency_key=req.idempotency_key,
                        effective=req.effective, metadata=req.metadata)
        return PostResult(id=tx.id, recorded_at=tx.recorded_at, replayed=tx.replayed)
