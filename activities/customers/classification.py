"""Daily activity classification, one page of customers per activity call.

Fast path: the read model's ``version`` is the customer's event sequence, so a page's
`activity_classified` events are appended in one statement with their expected sequences; if any
customer changed concurrently the unique (entity, sequence) constraint rejects the batch and the page
falls back to one load/save per changed customer.
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity

from activities.audit import record_system_action
from activities.customers import deposit_account_hooks
from activities.customers.repository import load_customer, save_customer
from activities.customers.tables import customers
from activities.event_store import events
from domain.customers.activity import classify
from domain.customers.messages import ClassifyPageRequest, ClassifyPageResult
from domain.customers.model import Activity
from domain.errors import ConcurrencyConflict
from ground.settings import Settings

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

    @activity.defn(name="customer.classify_customers_page")
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
                                           workflow_id=activity.info().workflow_id if activity.in_activity() else None)
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
                await conn.execute(insert(events), rows)
                await conn.execute(_UPDATE, {"ids": [c[0] for c in changes], "acts": [c[1].value for c in changes],
                                             "versions": [c[2] + 1 for c in changes]})
        except IntegrityError as exc:
            raise ConcurrencyConflict("a customer changed during classification") from exc

    async def _apply_one_by_one(self, conn: AsyncConnection, changes, req: ClassifyPageRequest) -> None:
        for customer_id, new, _version in changes:
            customer = await load_customer(conn, customer_id)
            customer.classify(new, req.as_of)
            await save_customer(conn, customer)
