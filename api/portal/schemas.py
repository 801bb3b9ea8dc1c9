"""Portal response shapes: the operator API's own schemas, composed per customer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.credit.schemas import (
    CreditFacilityOut,
    DisbursalOut,
    FacilityBalance,
    PaymentOut,
    RepaymentPlanEntryOut,
)
from api.customers.schemas import CustomerOut
from api.deposits.schemas import BalanceOut, DepositAccountOut, DepositOut, HistoryEntry, WithdrawalOut

RECENT = 50  # how many of the newest deposits, withdrawals, ledger entries, disbursals and payments a read lists


class PortalDepositAccount(BaseModel):
    account: DepositAccountOut
    balance: BalanceOut
    deposits: list[DepositOut] = Field(description=f"The newest {RECENT} deposits, newest first")
    withdrawals: list[WithdrawalOut] = Field(description=f"The newest {RECENT} withdrawals, newest first")
    history: list[HistoryEntry] = Field(description=f"The newest {RECENT} ledger entries of the account")


class PortalFacility(BaseModel):
    facility: CreditFacilityOut = Field(description="Terms, stage and status, collateral, CVL (recorded and at the "
                                                    "latest price)")
    balance: FacilityBalance | None = Field(description="Balance summary from the ledger (null before the facility "
                                                        "has ledger accounts)")
    disbursals: list[DisbursalOut] = Field(description=f"The newest {RECENT} disbursals, newest first")
    repayment_plan: list[RepaymentPlanEntryOut]
    payments: list[PaymentOut] = Field(description=f"Repayment history: the newest {RECENT} payments with their "
                                                   "allocations")


class PortalMe(BaseModel):
    customer: CustomerOut = Field(description="Profile, KYC level and status, account status")
    deposit_account: PortalDepositAccount | None = Field(description="Null until the account is opened")
    credit_facilities: list[PortalFacility] = Field(description="Every loan of the customer (proposal, pending, "
                                                                "active, closed), newest first")
