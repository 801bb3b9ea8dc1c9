"""Workflow ↔ activity messages of the customer module (pure dataclasses, sandbox-safe)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.customers.sumsub import KycNotice


@dataclass(frozen=True)
class KycWorkflowInput:
    customer_id: str
    idle_seconds: int = 60  # how long a run waits for more notices before completing
    pending: tuple[KycNotice, ...] = ()  # notices not yet applied, carried across continue-as-new


@dataclass(frozen=True)
class KycLinkRequest:
    customer_id: str
    actor: str


@dataclass(frozen=True)
class DepositAccountsRequest:
    customer_id: str
    action: str  # DepositAccountAction value
    reason: str
    idempotency_key: str


@dataclass(frozen=True)
class ClassifyPageRequest:
    as_of: datetime
    after_id: str | None
    page_size: int


@dataclass(frozen=True)
class ClassifyPageResult:
    last_id: str | None
    scanned: int
    changed: int


@dataclass
class ClassificationInput:
    """Carried across continue-as-new: where the run is and what it has done so far."""

    as_of: datetime | None = None
    after_id: str | None = None
    scanned: int = 0
    changed: int = 0
    page_size: int = 1000
    pages_per_run: int = 200
