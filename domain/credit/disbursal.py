"""A disbursal (credit.md §5) as an event-sourced aggregate: New, then Confirmed, Denied or Failed.

Stream ``credit_disbursal``: ``initiated``, then ``approved`` + ``settled``, ``denied`` +
``cancelled``, or ``approved`` + ``settlement_failed`` (the settlement posting was refused, e.g. the
deposit account was frozen or closed meanwhile: the reservation is released, the reason kept); the initial disbursal made at activation is ``initiated`` + ``settled`` at once
(pre-approved with the proposal, §0.4). Concluding twice records nothing the second time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from domain.credit.status import DisbursalStatus
from domain.events import EventSourced


@dataclass
class Disbursal(EventSourced):
    entity_type = "credit_disbursal"

    facility_id: str = ""
    amount_cents: int = 0
    is_initial: bool = False
    created_by: str = ""
    status: DisbursalStatus = DisbursalStatus.NEW
    failure_code: str | None = None
    failure_reason: str | None = None

    @classmethod
    def initiate(cls, disbursal_id: str, facility_id: str, amount_cents: int, actor: str, *,
                 is_initial: bool = False) -> Disbursal:
        d = cls(id=disbursal_id)
        d.record("initiated", {"facility_id": facility_id, "amount_cents": amount_cents, "actor": actor,
                               "is_initial": is_initial})
        return d

    @classmethod
    def initial(cls, facility_id: str, amount_cents: int) -> Disbursal:
        """The disbursal made at activation, settled at once; its id follows from the facility's."""
        d = cls.initiate(str(uuid.uuid5(uuid.UUID(facility_id), "initial-disbursal")), facility_id, amount_cents,
                         "system", is_initial=True)
        d.record("settled", {})
        return d

    @property
    def approval_process_id(self) -> str:
        return self.facility_id if self.is_initial else self.id  # the initial one rides on the proposal's

    def check_conclude(self) -> bool:
        """True while awaiting its approval's outcome; False once concluded (a replay)."""
        return self.status is DisbursalStatus.NEW

    def conclude(self, approved: bool) -> bool:
        """Approved: settled (Confirmed); denied: cancelled (Denied). False when already concluded."""
        if not self.check_conclude():
            return False
        for event_type in ("approved", "settled") if approved else ("denied", "cancelled"):
            self.record(event_type, {})
        return True

    def fail(self, code: str, reason: str) -> bool:
        """Approved, but the settlement was refused (``code``/``reason`` of the refusal): the
        disbursal ends ``Failed``. False when already concluded."""
        if not self.check_conclude():
            return False
        self.record("approved", {})
        self.record("settlement_failed", {"code": code, "reason": reason})
        return True

    def apply(self, event_type: str, payload: dict[str, Any]) -> None:
        if event_type == "initiated":
            self.facility_id = payload["facility_id"]
            self.amount_cents = payload["amount_cents"]
            self.is_initial = payload.get("is_initial", False)
            self.created_by = payload["actor"]
        elif event_type == "approved":
            self.status = DisbursalStatus.APPROVED
        elif event_type == "settled":
            self.status = DisbursalStatus.CONFIRMED
        elif event_type in ("denied", "cancelled"):
            self.status = DisbursalStatus.DENIED
        elif event_type == "settlement_failed":
            self.status = DisbursalStatus.FAILED
            self.failure_code, self.failure_reason = payload["code"], payload["reason"]
