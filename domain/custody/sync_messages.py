"""Workflow and activity payloads of the custody sync (pydantic: Temporal's data converter)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.custody.model import WebhookNotice

BALANCE_NOTICE_SIGNAL = "balance_notice"
NOTICES_BEFORE_CONTINUE = 500  # continue-as-new after this many notices in one run


class NoticeSource(enum.StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"


class InboxStatus(enum.StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class BalanceNotice(BaseModel):
    """One notice for a wallet: a stored webhook (``inbox_id``) or a self-custody poll that saw a
    different balance (``balance_sats`` and ``changed_at`` set, no inbox row)."""

    wallet_id: str
    provider: str
    source: NoticeSource = NoticeSource.WEBHOOK
    inbox_id: str | None = None
    event_id: str
    external_wallet_id: str
    balance_sats: int | None = None
    changed_at: datetime | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.inbox_id or self.event_id

    def webhook_notice(self) -> WebhookNotice:
        return WebhookNotice(event_id=self.event_id, external_wallet_id=self.external_wallet_id,
                             balance_sats=self.balance_sats, detail=dict(self.detail))


class WalletWorkflowInput(BaseModel):
    wallet_id: str
    idle_seconds: int = 60
    pending: list[BalanceNotice] = Field(default_factory=list)  # handed over by continue-as-new


class SyncInput(BaseModel):
    """The coalesced notices of one wallet: the step applies the provider's current balance once."""

    wallet_id: str
    notices: list[BalanceNotice]
    now: datetime


class SyncResult(BaseModel):
    wallet_id: str
    facility_id: str | None
    balance_sats: int | None  # the wallet's latest balance after the step
    changed_at: datetime | None
    changed: bool
    released: bool


class ResolveInput(BaseModel):
    """A stored notice whose wallet was not known when it arrived (§2.4: bounded retries)."""

    inbox_id: str
    provider: str
    attempts: int = 8


class FailNoticeInput(BaseModel):
    inbox_ids: list[str]
    error: str


class PollInput(BaseModel):
    page_size: int = 200


class PollCursor(BaseModel):
    after_id: str | None = None
    checked: int = 0
    changed: int = 0
    failures: int = 0
    failed: dict[str, str] = Field(default_factory=dict)  # wallet id -> error (the first 100; none stops the others)
