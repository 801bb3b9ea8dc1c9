"""Temporal adapter of customers: KYC (SumSub notices, verification links, deposit hooks) and the
daily activity classification, one page of customers per activity call.

Classification fast path: the read model's ``version`` is the customer's event sequence, so a page's
`activity_classified` events are appended in one statement with their expected sequences; if any
customer changed concurrently the unique (entity, sequence) constraint rejects the batch and the page
falls back to one load/save per changed customer.
"""

from __future__ import annotations

import structlog
from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.audit import record_system_action
from activities.boundary import lana_activity
from activities.customers import deposit_account_hooks
from activities.customers.repository import load_customer, save_customer
from activities.customers.sumsub_client import SumSubClient, SumSubError
from activities.customers.tables import customers
from activities.event_store import insert_rows
from domain.customers.activity import classify
from domain.customers.errors import CustomerNotFound
from domain.customers.messages import (
    ClassifyPageRequest,
    ClassifyPageResult,
    DepositAccountsRequest,
    KycLinkRequest,
)
from domain.customers.model import Activity, CustomerType, DepositAccountAction, KycLevel, KycReview
from domain.customers.sumsub import KycNotice
from domain.errors import ConcurrencyConflict
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

    @lana_activity("customer.apply_kyc_notice")
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

    @lana_activity("customer.apply_kyc_to_deposit_accounts")
    async def apply_kyc_to_deposit_accounts(self, req: DepositAccountsRequest) -> bool:
        """Freeze / unfreeze the customer's deposit accounts after a KYC review.

        Records the request on the customer and freezes/unfreezes every deposit account of the
        holder in the same transaction (activities/customers/deposit_account_hooks.py).
        """
        async with self.engine.begin() as conn:
            return await deposit_account_hooks.apply_kyc_to_deposit_accounts(
                conn, req.customer_id, DepositAccountAction(req.action), req.reason, req.idempotency_key)

    @lana_activity("customer.create_kyc_link")
    async def create_kyc_link(self, req: KycLinkRequest) -> str:
        """Create the SumSub applicant (once) and a verification link; record both on the customer."""
        async with self.engine.connect() as conn:
            customer = await load_customer(conn, req.customer_id)  # CustomerNotFound: a refusal
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
        except SumSubError as exc:  # the provider's own answer decides whether a retry can help
            raise ApplicationError(str(exc), type="customer.kyc_provider_unavailable",
                                   non_retryable=not exc.retryable) from exc
        async with self.engine.begin() as conn:
            fresh = await load_customer(conn, req.customer_id)
            fresh.record_link(url, req.actor)
            await save_customer(conn, fresh)
        return url


def _workflow_id() -> str | None:
    return activity.info().workflow_id if activity.in_activity() else None

_UPDATE = text(
    "UPDATE customers SET activity = v.activity, version = v.version, updated_at = now() "
    "FROM unnest(CAST(:ids AS uuid[]), CAST(:acts AS text[]), CAST(:versions AS bigint[])) "
    "AS v(id, activity, version) WHERE customers.id = v.id"
).bindparams(bindparam("ids"), bindparam("acts"), bindparam("versions"))


class CustomerClassificationActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self.engine = engine
        self.inactive_years = settings.activity_inactive_after_years
        self.suspended_years = settings.activity_suspended_after_years

    @lana_activity("customer.classify_customers_page")
    async def classify_customers_page(self, req: ClassifyPageRequest) -> ClassifyPageResult:
        query = (select(customers.c.id, customers.c.activity, customers.c.last_activity_at, customers.c.version)
                 .where(customers.c.activity != Activity.SUSPENDED.value)
                 .order_by(customers.c.id).limit(req.page_size))
        if req.after_id:
            query = query.where(customers.c.id > req.after_id)
        async with self.engine.begin() as conn:
            rows = (await conn.execute(query)).all()
            changes = []
            for r in rows:
                new = classify(r.last_activity_at, req.as_of, inactive_after_years=self.inactive_years,
                               suspended_after_years=self.suspended_years)
                if new.value != r.activity:
                    changes.append((str(r.id), new, r.version))
            if changes:
                try:
                    await self._bulk_apply(conn, changes, req)
                except ConcurrencyConflict:
                    await self._apply_one_by_one(conn, changes, req)
                for customer_id, new, _version in changes:
                    await deposit_account_hooks.apply_activity_to_deposit_accounts(conn, customer_id, new.value)
                # One audit entry per page (not per customer): the per-customer change is an event.
                await record_system_action(conn, "customer/customer/*", "customer:customer:update",
                                           subject="system:activity-classification",
                                           workflow_id=_workflow_id())
        last_id = str(rows[-1].id) if rows else None
        return ClassifyPageResult(last_id=last_id, scanned=len(rows), changed=len(changes))

    async def _bulk_apply(self, conn: AsyncConnection, changes, req: ClassifyPageRequest) -> None:
        as_of = req.as_of.isoformat()
        rows = [{"entity_type": "customer", "entity_id": cid, "sequence": version + 1,
                 "event_type": "activity_classified", "payload": {"activity": new.value, "as_of": as_of}}
                for cid, new, version in changes]
        from sqlalchemy.exc import IntegrityError

        try:
            async with conn.begin_nested():
                await insert_rows(conn, rows)
                await conn.execute(_UPDATE, {"ids": [c[0] for c in changes], "acts": [c[1].value for c in changes],
                                             "versions": [c[2] + 1 for c in changes]})
        except IntegrityError as exc:
            raise ConcurrencyConflict("a customer changed during classification") from exc

    async def _apply_one_by_one(self, conn: AsyncConnection, changes, req: ClassifyPageRequest) -> None:
        for customer_id, new, _version in changes:
            customer = await load_customer(conn, customer_id)
            customer.classify(new, req.as_of)
            await save_customer(conn, customer)
