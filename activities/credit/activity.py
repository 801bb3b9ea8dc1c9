"""Temporal activities of the credit module: thin adapters, one transaction each (``operations``).

``CreditFacilityActivities`` serve the ``CreditFacility`` workflow; ``CollateralizationActivities``
serve the price re-evaluation (credit.md §3.4/§3.6): the feed's batch pass finds the active
facilities whose collateralization state changes at a new price, and the pending ones that become
fully collateralized (one pass over the read model, in pages), so only those workflows are
signalled; each then re-evaluates (or activates) its own locked row.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.boundary import lana_activity
from activities.credit import operations, payments
from activities.time.clock import business_now
from domain.credit.messages import (
    ActivateInput,
    CollateralInput,
    CompleteInput,
    ConcludeDisbursal,
    ConcludeProposal,
    CustomerDecisionInput,
    DisbursalInput,
    FacilityState,
    PaymentInput,
    PaymentOutcome,
    ReevaluateInput,
)
from ground.settings import Settings


def _workflow_id() -> str | None:
    """The calling workflow, for the audit entries of system actions."""
    return activity.info().workflow_id if activity.in_activity() else None


class CreditFacilityActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.max_age = timedelta(seconds=settings.price_max_age_seconds)
        self.kyc_required = settings.kyc_required
        self.settings = settings

    async def _today(self, conn, inp):
        """The step's input with ``now`` on the business clock, and the business date (§12.1): on a
        simulated clock a facility activated after three advances is activated on that date."""
        instant, today = await business_now(conn, self.settings, inp.now)
        return inp.model_copy(update={"now": instant}), today

    @lana_activity("credit.conclude_customer_approval")
    async def conclude_customer_approval(self, inp: CustomerDecisionInput) -> FacilityState:
        async with self.engine.begin() as conn:
            return await operations.conclude_customer_approval(conn, inp)

    @lana_activity("credit.conclude_proposal")
    async def conclude_proposal(self, inp: ConcludeProposal) -> FacilityState:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return await operations.conclude_proposal(conn, inp, _workflow_id(), today=today)

    @lana_activity("credit.record_collateral")
    async def record_collateral(self, inp: CollateralInput) -> FacilityState:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return await operations.record_collateral(conn, inp, self.max_age, today=today)

    @lana_activity("credit.activate")
    async def activate(self, inp: ActivateInput) -> FacilityState:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return await operations.activate(conn, inp, self.max_age, _workflow_id(), today=today)

    @lana_activity("credit.initiate_disbursal")
    async def initiate_disbursal(self, inp: DisbursalInput) -> FacilityState:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return await operations.initiate_disbursal(conn, inp, self.max_age, kyc_required=self.kyc_required, today=today)

    @lana_activity("credit.conclude_disbursal")
    async def conclude_disbursal(self, inp: ConcludeDisbursal) -> FacilityState:
        async with self.engine.begin() as conn:
            inp, today = await self._today(conn, inp)
            return await operations.conclude_disbursal(conn, inp, self.max_age, _workflow_id(), today=today)

    @lana_activity("credit.record_payment")
    async def record_payment(self, inp: PaymentInput) -> PaymentOutcome:
        async with self.engine.begin() as conn:
            return await payments.record_payment(conn, inp, self.max_age, settings=self.settings,
                                                 workflow_id=_workflow_id())

    @lana_activity("credit.complete_facility")
    async def complete_facility(self, inp: CompleteInput) -> FacilityState:
        async with self.engine.begin() as conn:
            return await payments.complete_facility(conn, inp, settings=self.settings)


class CollateralizationActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @lana_activity("credit.facilities_crossing_thresholds")
    async def facilities_crossing_thresholds(self, price_cents: int) -> list[str]:
        async with self.engine.connect() as conn:
            return await operations.crossing_ids(conn, price_cents)

    @lana_activity("credit.reevaluate_collateralization")
    async def reevaluate_collateralization(self, inp: ReevaluateInput) -> FacilityState:
        async with self.engine.begin() as conn:
            return await operations.reevaluate_collateralization(conn, inp)
