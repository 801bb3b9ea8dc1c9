"""Daily customer activity classification (Active / Inactive / Suspended), run by a Schedule.

Pages through classifiable customers by id; each page is one activity call, so memory stays one
page and history grows ~6 events per page; the run continues as new every ``pages_per_run`` pages
(or when Temporal suggests it), carrying the cursor and the instant it classifies as of (00:00 UTC
of the day the run started: the end-of-day closing time).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.customers.activity import CustomerClassificationActivities
    from domain.customers.activity import closing_time
    from domain.customers.messages import ClassificationInput, ClassifyPageRequest
    from workflows.search_attributes import LANA_PROCESS_TYPE

SCHEDULE_ID = "customer-activity-classification"


@workflow.defn
class CustomerActivityClassificationWorkflow:
    @workflow.init
    def __init__(self, inp: ClassificationInput) -> None:
        # The cursor carried across continue-as-new is the run's state from its first activation.
        self.state = ClassificationInput(as_of=inp.as_of or closing_time(workflow.now()), after_id=inp.after_id,
                                         scanned=inp.scanned, changed=inp.changed, page_size=inp.page_size,
                                         pages_per_run=inp.pages_per_run)

    @workflow.run
    async def run(self, inp: ClassificationInput) -> ClassificationInput:
        workflow.upsert_search_attributes([LANA_PROCESS_TYPE.value_set("customer-activity-classification")])
        state = self.state
        pages = 0
        while True:
            result = await workflow.execute_activity_method(
                CustomerClassificationActivities.classify_customers_page,
                ClassifyPageRequest(state.as_of, state.after_id, state.page_size),  # type: ignore[arg-type]
                start_to_close_timeout=timedelta(minutes=5))
            state.scanned += result.scanned
            state.changed += result.changed
            if result.last_id is None or result.scanned < state.page_size:
                state.after_id = None
                return state
            state.after_id = result.last_id
            pages += 1
            if pages >= state.pages_per_run or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(state)
