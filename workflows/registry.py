"""Every workflow the worker runs. Add new workflow classes here."""

from __future__ import annotations

from workflows.approval_process import ApprovalProcessWorkflow
from workflows.credit_facility import CreditFacilityWorkflow
from workflows.customer_activity import CustomerActivityClassificationWorkflow
from workflows.customer_kyc import CustomerKycWorkflow, KycLinkWorkflow
from workflows.price_feed import PriceFeedWorkflow
from workflows.sample import NoopWorkflow, SleepWorkflow
from workflows.withdrawal import WithdrawalWorkflow

WORKFLOWS: list[type] = [SleepWorkflow, NoopWorkflow, ApprovalProcessWorkflow, CustomerKycWorkflow,
                         KycLinkWorkflow, CustomerActivityClassificationWorkflow, PriceFeedWorkflow,
                         CreditFacilityWorkflow, WithdrawalWorkflow]
