"""Request and response bodies of the deposit API (amounts in USD cents)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from api.capabilities import CAPABILITIES_FIELD
from api.enums import ApiEnum
from domain.customers.model import Activity, CustomerType
from domain.deposits.model import AccountStatus, DepositStatus, WithdrawalStatus
from domain.ledger.model import Currency, Layer
from domain.ledger.model import Direction as EntryDirection

MAX_CENTS = 2**63 - 1


class DepositAccountCreate(BaseModel):
    customer_id: UUID


class DepositAccountOut(BaseModel):
    id: str
    public_id: str
    account_holder_id: str
    customer_type: ApiEnum[CustomerType]
    status: ApiEnum[AccountStatus]
    activity: ApiEnum[Activity]
    ledger_account_id: str
    frozen_ledger_account_id: str
    created_at: datetime
    updated_at: datetime

    capabilities: dict[str, bool] | None = CAPABILITIES_FIELD

    @classmethod
    def from_row(cls, r) -> DepositAccountOut:
        return cls(id=str(r.id), public_id=r.public_id, account_holder_id=str(r.holder_id),
                   customer_type=r.customer_type, status=r.status, activity=r.activity, ledger_account_id=str(r.id),
                   frozen_ledger_account_id=str(r.frozen_account_id), created_at=r.created_at,
                   updated_at=r.updated_at)


class BalanceOut(BaseModel):
    currency: ApiEnum[Currency] = Currency.USD
    settled: int = Field(description="Booked funds: available + pending withdrawals + frozen")
    pending: int = Field(description="Withdrawals reserved, not yet confirmed / cancelled / denied")
    available: int = Field(description="What can be withdrawn now")
    frozen: int = Field(description="Parked on the frozen twin while the account is frozen")


class HistoryEntry(BaseModel):
    transaction_id: str
    sequence: int
    template_code: str
    entry_type: str
    direction: ApiEnum[EntryDirection]
    layer: ApiEnum[Layer]
    amount: int
    currency: ApiEnum[Currency]
    effective: date
    recorded_at: datetime


class MoneyIn(BaseModel):
    deposit_account_id: UUID
    amount: int = Field(gt=0, le=MAX_CENTS, strict=True, description="USD cents (integer), > 0")
    reference: str | None = Field(None, min_length=1, max_length=200,
                                  description="Unique; defaults to the id. A repeat returns the original.")


class DepositOut(BaseModel):
    id: str
    public_id: str
    deposit_account_id: str
    amount: int
    reference: str
    status: ApiEnum[DepositStatus]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, r) -> DepositOut:
        return cls(id=str(r.id), public_id=r.public_id, deposit_account_id=str(r.deposit_account_id),
                   amount=r.amount, reference=r.reference, status=r.status, created_at=r.created_at,
                   updated_at=r.updated_at)


class WithdrawalOut(DepositOut):
    status: ApiEnum[WithdrawalStatus]
    approval_process_id: str
    approved: bool | None = None
    workflow_id: str

    capabilities: dict[str, bool] | None = CAPABILITIES_FIELD

    @classmethod
    def from_row(cls, r) -> WithdrawalOut:
        return cls(id=str(r.id), public_id=r.public_id, deposit_account_id=str(r.deposit_account_id),
                   amount=r.amount, reference=r.reference, status=r.status, created_at=r.created_at,
                   updated_at=r.updated_at, approval_process_id=str(r.id), approved=r.approved,
                   workflow_id=f"withdrawal-{r.id}")
