"""CreditFacilityWorkflow's branching on Temporal's time-skipping server, without PostgreSQL.

The stub activities are registered under the real activity names and keep the aggregates in
memory, running the same domain methods the real operations run; governance's
``start_approval_process`` answers with an already concluded process, so no approval child starts.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.worker import Worker

from activities.boundary import lana_activity
from activities.governance.activity import StartApproval
from domain.credit.disbursal import Disbursal
from domain.credit.facility import CreditFacility
from domain.credit.messages import (
    ActivateInput,
    CollateralCommand,
    CollateralInput,
    ConcludeDisbursal,
    ConcludeProposal,
    CustomerDecisionCommand,
    CustomerDecisionInput,
    DisbursalCommand,
    DisbursalInput,
    FacilityState,
)
from domain.credit.status import FacilityStatus, Stage
from domain.custody.messages import CreateWalletInput, WalletInfo
from domain.errors import LanaError, ValidationFailed
from domain.governance.voting import ApprovalState, ApprovalStatus
from domain.ledger.errors import JournalLocked
from domain.price.model import PriceChanged
from tests.credit_fixtures import terms
from workers.worker import SANDBOX
from workflows.credit_facility import CreditFacilityWorkflow, facility_workflow_id

PRICE = 6_000_000  # $60,000 per BTC


class FakeCredit:
    """The stubs' in-memory bank: facilities and disbursals by id, approval outcomes by process id."""

    def __init__(self) -> None:
        self.facilities: dict[str, CreditFacility] = {}
        self.disbursals: dict[str, Disbursal] = {}
        self.decisions: dict[str, ApprovalStatus] = {}
        self.price = PRICE
        self.refuse_conclusion: LanaError | None = None
        self.collateral_outage = False
        self.wallets: list[str] = []  # facility ids custody.create_wallet was asked for
        self.refuse_wallet: LanaError | None = None

    def activities(self) -> list:
        return [self.start_approval_process, self.conclude_customer_approval, self.conclude_proposal, self.record_collateral, self.activate,
                self.initiate_disbursal, self.conclude_disbursal, self.create_wallet]

    @lana_activity("custody.create_wallet")
    async def create_wallet(self, inp: CreateWalletInput) -> WalletInfo | None:
        self.wallets.append(inp.facility_id)
        if self.refuse_wallet is not None:
            raise self.refuse_wallet
        return WalletInfo(wallet_id="w", address="bc1q", network="mainnet", custodian_id="c",
                          provider="self-custody", external_wallet_id="self-custody:0")

    @lana_activity("governance.start_approval_process")
    async def start_approval_process(self, inp: StartApproval) -> ApprovalState:
        return ApprovalState(process_id=inp.process_id, process_type=inp.process_type, target_ref=inp.target_ref,
                             eligible=[], threshold=0,
                             status=self.decisions.get(inp.process_id, ApprovalStatus.APPROVED))

    @lana_activity("credit.conclude_customer_approval")
    async def conclude_customer_approval(self, inp: CustomerDecisionInput) -> FacilityState:
        f = self.facilities[inp.facility_id]
        f.conclude_customer_approval(inp.approved, inp.actor)
        return f.state

    @lana_activity("credit.conclude_proposal")
    async def conclude_proposal(self, inp: ConcludeProposal) -> FacilityState:
        f = self.facilities[inp.facility_id]
        f.conclude_proposal(inp.approved, {})
        return f.state

    @lana_activity("credit.record_collateral")
    async def record_collateral(self, inp: CollateralInput) -> FacilityState:
        if self.collateral_outage:
            raise ConnectionError("database away")  # unexpected: retried, but not forever under the lock
        f = self.facilities[inp.facility_id]
        if f.update_collateral(inp.seq, inp.collateral_sats, inp.effective, inp.now, inp.actor):
            f.reevaluate(self.price)
        return f.state

    @lana_activity("credit.activate")
    async def activate(self, inp: ActivateInput) -> FacilityState:
        f = self.facilities[inp.facility_id]
        f.activate(inp.now, f.state.collateral_sats, self.price)
        return f.state

    @lana_activity("credit.initiate_disbursal")
    async def initiate_disbursal(self, inp: DisbursalInput) -> FacilityState:
        f = self.facilities[inp.facility_id]
        d = f.initiate_disbursal(inp.disbursal_id, inp.amount_cents, inp.actor, inp.now, f.state.drawn_cents,
                                 self.price)
        if d is not None:
            self.disbursals[d.id] = d
        return f.state

    @lana_activity("credit.conclude_disbursal")
    async def conclude_disbursal(self, inp: ConcludeDisbursal) -> FacilityState:
        if self.refuse_conclusion is not None:
            raise self.refuse_conclusion
        f = self.facilities[inp.facility_id]
        f.conclude_disbursal(self.disbursals[inp.disbursal_id], inp.approved, inp.now.date())
        return f.state


@pytest.fixture
async def bank(ts_env):
    fake = FakeCredit()
    queue = f"credit-{uuid.uuid4().hex[:8]}"
    async with Worker(ts_env.client, task_queue=queue, workflows=[CreditFacilityWorkflow],
                      activities=fake.activities(), workflow_runner=SANDBOX):
        yield fake, ts_env.client, queue


async def _propose(bank, custodian_id: str | None = None, **kw) -> tuple[str, WorkflowHandle]:
    fake, client, queue = bank
    f = CreditFacility.propose(str(uuid.uuid4()), str(uuid.uuid4()), "Individual", 100_000, terms(**kw),
                               str(uuid.uuid4()), custodian_id, "user:test")
    fake.facilities[f.id] = f
    handle = await client.start_workflow(CreditFacilityWorkflow.run, f.state, id=facility_workflow_id(f.id),
                                         task_queue=queue)
    return f.id, handle


async def _until(handle: WorkflowHandle, predicate) -> FacilityState:
    for _ in range(400):
        state = await handle.query(CreditFacilityWorkflow.current)
        if predicate(state):
            return state
        await asyncio.sleep(0.025)
    raise AssertionError(f"never reached: {state}")


async def _collateral(handle: WorkflowHandle, sats: int) -> FacilityState:
    return await handle.execute_update(CreditFacilityWorkflow.update_collateral,
                                       CollateralCommand(collateral_sats=sats, actor="user:test"))


async def _active(bank, **kw) -> tuple[str, WorkflowHandle]:
    fid, handle = await _propose(bank, **kw)
    await _until(handle, lambda s: s.stage is Stage.PENDING)
    assert (await _collateral(handle, 10_000_000)).status is FacilityStatus.ACTIVE  # $6,000 against $1,000
    return fid, handle


async def _disburse(handle: WorkflowHandle, disbursal_id: str, amount: int) -> FacilityState:
    return await handle.execute_update(CreditFacilityWorkflow.initiate_disbursal, DisbursalCommand(
        disbursal_id=disbursal_id, amount_cents=amount, actor="user:test"))


async def test_denied_proposal_ends_the_run(bank):
    fake = bank[0]
    fid = str(uuid.uuid4())
    fake.decisions[fid] = ApprovalStatus.DENIED
    f = CreditFacility.propose(fid, "c", "Individual", 100_000, terms(), "d", None, "user:test")
    fake.facilities[fid] = f
    result = await bank[1].execute_workflow(CreditFacilityWorkflow.run, f.state, id=facility_workflow_id(fid),
                                            task_queue=bank[2])
    assert (result.stage, result.proposal_status.value) == (Stage.DENIED, "Denied")


async def test_collateral_below_threshold_stays_pending_and_reaching_it_activates(bank):
    _, handle = await _propose(bank)
    pending = await _until(handle, lambda s: s.stage is Stage.PENDING)
    assert pending.pending_collateralization.value == "NotYetCollateralized"
    state = await _collateral(handle, 2_000_000)  # CVL 120 < initial CVL 140
    assert (state.stage, state.pending_collateralization.value, state.cvl) == (
        Stage.PENDING, "UnderCollateralized", "120")
    assert (await _collateral(handle, 2_333_333)).stage is Stage.PENDING  # CVL 139
    state = await _collateral(handle, 2_333_334)  # CVL 140: activated within the same Update
    assert (state.stage, state.status, state.collateralization.value) == (
        Stage.ACTIVE, FacilityStatus.ACTIVE, "FullyCollateralized")
    assert state.disbursed_cents == 1_000  # the fee-sized initial disbursal
    summary = await handle.query(CreditFacilityWorkflow.summary)
    assert (summary.status, summary.remaining_cents) == ("Active", 99_000)


async def test_approved_disbursal_settles_and_denied_cancels(bank):
    fake = bank[0]
    _, handle = await _active(bank, one_time_fee_rate="0")
    approved, denied = str(uuid.uuid4()), str(uuid.uuid4())
    fake.decisions[denied] = ApprovalStatus.DENIED
    assert (await _disburse(handle, approved, 30_000)).in_flight.get(approved) == 30_000
    await _disburse(handle, denied, 20_000)
    state = await _until(handle, lambda s: not s.in_flight and s.disbursal_count == 2)
    assert (state.disbursed_cents, state.drawn_cents, state.remaining_cents) == (30_000, 30_000, 70_000)
    assert (fake.disbursals[approved].status.value, fake.disbursals[denied].status.value) == ("Confirmed", "Denied")


async def test_refused_command_fails_the_update_not_the_workflow(bank):
    fake = bank[0]
    _, handle = await _active(bank, one_time_fee_rate="0")
    with pytest.raises(WorkflowUpdateFailedError) as refused:  # the validator's refusal
        await _collateral(handle, -1)
    assert refused.value.cause.type == "credit.invalid_collateral_amount"
    fake.price = PRICE // 40  # the collateral is now worth $150: the activity refuses the disbursal
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await _disburse(handle, str(uuid.uuid4()), 20_000)
    assert refused.value.cause.type == "credit.below_margin_limit"
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    fake.price = PRICE
    state = await _disburse(handle, str(uuid.uuid4()), 20_000)  # the same loan goes on
    assert (state.drawn_cents, len(state.in_flight)) == (20_000, 1)


async def test_a_refused_conclusion_is_shown_not_dropped(bank):
    """A conclusion the activity refuses as a whole (not retried) is logged and shown in the
    workflow (query `unconcluded_disbursals`, current details); it keeps running and answers commands."""
    fake = bank[0]
    _, handle = await _active(bank, one_time_fee_rate="0")
    fake.refuse_conclusion = JournalLocked("journal locked")
    did = str(uuid.uuid4())
    await _disburse(handle, did, 10_000)
    for _ in range(400):
        if await handle.query(CreditFacilityWorkflow.unconcluded_disbursals):
            break
        await asyncio.sleep(0.025)
    assert await handle.query(CreditFacilityWorkflow.unconcluded_disbursals) == {did: "ledger.journal_locked"}
    assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
    fake.refuse_conclusion = None
    assert (await _disburse(handle, str(uuid.uuid4()), 10_000)).drawn_cents == 20_000


async def test_a_command_step_that_keeps_failing_answers_unavailable_and_frees_the_lock(bank):
    """An Update's step under the lock gets a few attempts (COMMAND_OPTIONS), then the Update fails
    with common.unavailable (the caller repeats); the lock is free for the next command."""
    fake = bank[0]
    _, handle = await _active(bank, one_time_fee_rate="0")
    fake.collateral_outage = True
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await _collateral(handle, 20_000_000)
    assert failed.value.cause.type == "common.unavailable"
    fake.collateral_outage = False
    assert (await _collateral(handle, 20_000_000)).collateral_sats == 20_000_000
    assert (await _disburse(handle, str(uuid.uuid4()), 10_000)).drawn_cents == 10_000


async def test_price_signal_activates_a_pending_facility(bank):
    """§3.6 (issue 14 item 10): the batch pass signals a pending facility that became fully
    collateralized; the handler activates it through the same activate activity."""
    fake = bank[0]
    _, handle = await _propose(bank, one_time_fee_rate="0")
    await _until(handle, lambda s: s.stage is Stage.PENDING)
    assert (await _collateral(handle, 2_000_000)).stage is Stage.PENDING  # CVL 120 at $60,000
    fake.price = 7_000_000  # CVL 140 = initial CVL
    await handle.signal(CreditFacilityWorkflow.price_changed,
                        PriceChanged(usd_cents_per_btc=7_000_000, observed_at=datetime.now(UTC)))
    state = await _until(handle, lambda s: s.stage is Stage.ACTIVE)
    assert (state.status, state.cvl) == (FacilityStatus.ACTIVE, "140")


async def _decide(handle: WorkflowHandle, approved: bool) -> FacilityState:
    return await handle.execute_update(CreditFacilityWorkflow.customer_decision,
                                       CustomerDecisionCommand(approved=approved, actor="user:customer"))


async def test_customer_acceptance_then_governance_then_pending(bank):
    """Terms with the step: the proposal waits for the customer (no approval asked yet), the
    acceptance starts governance, a second decision is refused by the validator."""
    fake = bank[0]
    fid, handle = await _propose(bank, customer_acceptance_required=True)
    state = await _until(handle, lambda s: True)
    assert (state.stage, state.proposal_status.value) == (Stage.PROPOSAL, "PendingCustomerApproval")
    assert (await handle.query(CreditFacilityWorkflow.summary)).status == "PendingCustomerApproval"
    with pytest.raises(WorkflowUpdateFailedError) as refused:  # not before the customer accepted
        await _collateral(handle, 10_000_000)
    assert refused.value.cause.type == "credit.collateral_update_not_allowed"
    assert fake.facilities[fid].state.proposal_status.value == "PendingCustomerApproval"
    state = await _decide(handle, True)
    assert state.proposal_status.value in ("PendingApproval", "Approved")
    assert (await _until(handle, lambda s: s.stage is Stage.PENDING)).proposal_status.value == "Approved"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await _decide(handle, True)
    assert refused.value.cause.type == "credit.customer_decision_not_pending"
    assert (await _collateral(handle, 10_000_000)).status is FacilityStatus.ACTIVE


async def test_customer_rejection_ends_the_run(bank):
    _, handle = await _propose(bank, customer_acceptance_required=True)
    state = await _decide(handle, False)
    assert (state.stage, state.proposal_status.value) == (Stage.DENIED, "CustomerDenied")
    result = await handle.result()
    assert (result.stage, result.proposal_status.value, result.customer_accepted) == (
        Stage.DENIED, "CustomerDenied", False)


async def test_without_the_step_a_decision_is_refused(bank):
    _, handle = await _propose(bank)  # terms() stored without the field: no customer step
    assert (await _until(handle, lambda s: s.stage is Stage.PENDING)).proposal_status.value == "Approved"
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await _decide(handle, True)
    assert refused.value.cause.type == "credit.customer_decision_not_pending"


async def test_end_of_day_events_update_the_summary_idempotently_and_maturity_sets_matured(bank):
    """credit.md §12.2: the EndOfDay steps' events (at least once, maybe out of order) show the
    current cycle, next accrual date and worst obligation status; maturity makes it Matured."""
    from datetime import date

    from domain.credit.end_of_day import FacilityEvent, FacilityEventKind
    from workflows.search_attributes import LANA_NEXT_ACCRUAL_DATE, LANA_OBLIGATION_STATUS, LANA_STATUS

    fid, handle = await _active(bank, one_time_fee_rate="0")
    created = FacilityEvent(facility_id=fid, kind=FacilityEventKind.INTEREST_OBLIGATION_CREATED,
                            business_date=date(2026, 3, 31),
                            detail={"current_cycle": "2026-04", "next_accrual_date": "2026-04-01"})
    due = FacilityEvent(facility_id=fid, kind=FacilityEventKind.OBLIGATION_DUE, business_date=date(2026, 4, 1),
                        detail={"next_accrual_date": "2026-04-02"})
    for event in (created, due, due, created):  # a duplicate, then an older one again
        await handle.signal(CreditFacilityWorkflow.end_of_day_event, event)
    summary = await handle.query(CreditFacilityWorkflow.summary)
    assert (summary.current_cycle, summary.next_accrual_date, summary.worst_obligation_status, summary.status) == (
        "2026-04", date(2026, 4, 2), "Due", "Active")
    await handle.signal(CreditFacilityWorkflow.end_of_day_event, FacilityEvent(
        facility_id=fid, kind=FacilityEventKind.MATURED, business_date=date(2026, 6, 30),
        detail={"next_accrual_date": None}))
    summary = await handle.query(CreditFacilityWorkflow.summary)
    assert (summary.status, summary.next_accrual_date, summary.worst_obligation_status) == ("Matured", None, "Due")
    sa = (await handle.describe()).typed_search_attributes
    assert (sa[LANA_STATUS], sa[LANA_OBLIGATION_STATUS], sa[LANA_NEXT_ACCRUAL_DATE]) == ("Matured", "Due", "None")
    state = await handle.query(CreditFacilityWorkflow.current)
    assert state.status is FacilityStatus.MATURED


async def test_approval_creates_the_wallet_of_the_named_custodian_only(bank):
    fake = bank[0]
    with_custodian, handle = await _propose(bank, custodian_id=str(uuid.uuid4()))
    without, other = await _propose(bank)
    await _until(handle, lambda s: s.stage is Stage.PENDING)
    await _until(other, lambda s: s.stage is Stage.PENDING)
    for _ in range(200):
        if fake.wallets:
            break
        await asyncio.sleep(0.025)
    assert fake.wallets == [with_custodian]


async def test_a_refused_wallet_leaves_the_facility_usable(bank):
    fake = bank[0]
    fake.refuse_wallet = ValidationFailed("bad credentials")
    _, handle = await _propose(bank, custodian_id=str(uuid.uuid4()))
    await _until(handle, lambda s: s.stage is Stage.PENDING)
    assert (await _collateral(handle, 10_000_000)).status is FacilityStatus.ACTIVE
    assert len(fake.wallets) == 1  # a refusal is not retried
