"""Approval rules, process types, and the policy threshold validation."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from domain.governance.errors import InvalidThreshold


class ProcessType(StrEnum):
    CREDIT_FACILITY_PROPOSAL = "credit-facility-proposal"
    DISBURSAL = "disbursal"
    WITHDRAW = "withdraw"


class AutoApprove(BaseModel):
    type: Literal["auto_approve"] = "auto_approve"


class CommitteeRule(BaseModel):
    type: Literal["committee"] = "committee"
    committee_id: str
    threshold: int = Field(description="Approving votes needed to conclude approved")


ApprovalRules = AutoApprove | CommitteeRule


def validate_threshold(threshold: int, committee_size: int) -> None:
    """A threshold must be at least one and at most the committee's size."""
    if threshold < 1:
        raise InvalidThreshold(f"threshold must be at least 1, got {threshold}", field="threshold")
    if threshold > committee_size:
        raise InvalidThreshold(
            f"threshold {threshold} exceeds the committee's {committee_size} member(s)", field="threshold"
        )
