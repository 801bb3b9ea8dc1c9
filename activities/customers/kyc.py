"""KYC activities: apply SumSub notices to the customer, create verification links, deposit hooks."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import record_system_action
from activities.customers import deposit_account_hooks
from activities.customers.repository import load_customer, save_customer
from activities.customers.sumsub_client import SumSubClient, SumSubError
from domain.customers.errors import CustomerNotFound
from domain.customers.messages import DepositAccountsRequest, KycLinkRequest
from domain.customers.model import CustomerType, DepositAccountAction, KycLevel, KycReview
from domain.customers.sumsub import KycNotice
from ground.settings import Settings

log = structlog.get_logger(__name__)


class CustomerKycActivities:
    def __init__(self, engine: AsyncEngine, sumsub: SumSubClient, settings: Settings) -> None:
        self.engine = engine
        self.sumsub = sumsub
        self.settings = settings

    def _level(self, level_name: str) -> KycLevel | None:
        mapped = self.settings.sumsub_level_map.get(level_name)
        return KycLevel(mapped) if mapped in (KycLevel.BASIC.value, KycLevel.ADVANCED.value) else None

    @activity.defn(name="customer.apply_kyc_notice")
    async def apply_kyc_notice(self, notice: KycNotice) -> str | None:
        """Apply one verified SumSub notice; return the deposit-account action it calls for."""
        async with self.engine.begin() as conn:
            try:
                customer = await load_customer(conn, notice.customer_id)
            except CustomerNotFound:
                log.warning("sumsub notice for unknown customer", customer_id=notice.customer_id)
                return None
            action = None
            if notice.type == "applicantCreated" and notice.applicant_id:
                customer.record_applicant(notice.applicant_id, notice.level_name)
            elif notice.type == "applicantReviewed":
                review = KycReview(notice.event_id, notice.review_answer == "GREEN", notice.applicant_id,
                                   notice.level_name, notice.created_at)
                action = customer.apply_review(review, self._level(notice.level_name))
                verb = "approve-kyc" if notice.review_answer == "GREEN" else "decline-kyc"
                await record_system_action(conn, f"customer/customer/{notice.customer_id}",
                                           f"customer:customer:{verb}", subject="system:sumsub",
                                           workflow_id=_workflow_id())
            await save_customer(conn, customer)
        return action.value if action else None

    @activity.defn(name="customer.apply_kyc_to_deposit_accounts")
    async def apply_kyc_to_deposit_accounts(self, req: DepositAccountsRequest) -> bool:
        """Freeze / unfreeze the customer's deposit accounts after a KYC review.

        Records the request on the customer and freezes/unfreezes every deposit account of the
        holder in the same transaction (activities/customers/deposit_account_hooks.py).
        """
        async with self.engine.begin() as conn:
            return await deposit_account_hooks.apply_kyc_to_deposit_accounts(
                conn, req.customer_id, DepositAccountAction(req.action), req.reason, req.idempotency_key)

    @activity.defn(name="customer.create_kyc_link")
    async def create_kyc_link(self, req: KycLinkRequest) -> str:
        """Create the SumSub applicant (once) and a verification link; record both on the customer."""
        async with self.engine.connect() as conn:
            try:
                customer = await load_customer(conn, req.customer_id)
            except CustomerNotFound as exc:
                raise ApplicationError(exc.detail, type=exc.code, non_retryable=True) from exc
        individual = customer.customer_type == CustomerType.INDIVIDUAL
        level_name = self.settings.sumsub_kyc_level_name if individual else self.settings.sumsub_kyb_level_name
        try:
            if customer.applicant_id is None:
                applicant_id = await self.sumsub.create_applicant(
                    customer.id, level_name, "individual" if individual else "company")
                async with self.engine.begin() as conn:
                    fresh = await load_customer(conn, req.customer_id)
                    fresh.record_applicant(applicant_id, level_name)
                    await save_customer(conn, fresh)
            url = await self.sumsub.create_link(customer.id, level_name, self.settings.sumsub_link_ttl_seconds)
        except SumSubError as exc:
            raise ApplicationError(str(exc), type="customer.kyc_provider_unavailable",
                                   non_retryable=not exc.retryable) from exc
        async with self.engine.begin() as conn:
            fresh = await load_customer(conn, req.customer_id)
            fresh.record_link(url, req.actor)
            await save_customer(conn, fresh)
        return url


def _workflow_id() -> str | None:
    return activity.info().workflow_id if activity.in_activity() else None
