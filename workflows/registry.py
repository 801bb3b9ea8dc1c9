"""Every workflow the production worker runs. Add new workflow classes here.

Sample and benchmark workflows are not here: tests and `lana bench` pass them as ``extra_workflows=``.
"""

from __future__ import annotations

from workflows.approval_process import ApprovalProcessWorkflow
from workflows.credit_facility import CreditFacilityWorkflow
from workflows.custody_wallet import CustodyNoticeWorkflow, CustodyWalletWorkflow, SelfCustodyPollWorkflow
from workflows.customer_activity import CustomerActivityClassificationWorkflow
from workflows.customer_kyc import CustomerKycWorkflow, KycLinkWorkflow
from workflows.end_of_day import EndOfDayProducerWorkflow, EndOfDayWorkflow
from workflows.liquidation import LiquidationWorkflow
from workflows.price_feed import PriceFeedWorkflow
from workflows.report_run import ReportRunWorkflow, ScheduledReportsWorkflow
from workflows.withdrawal import WithdrawalWorkflow

WORKFLOWS: list[type] = [ApprovalProcessWorkflow, CustomerKycWorkflow, KycLinkWorkflow,
                         CustomerActivityClassificationWorkflow, PriceFeedWorkflow, CreditFacilityWorkflow,
                         WithdrawalWorkflow, EndOfDayWorkflow, EndOfDayProducerWorkflow, LiquidationWorkflow,
                         CustodyWalletWorkflow, CustodyNoticeWorkflow, SelfCustodyPollWorkflow,
                         ReportRunWorkflow, ScheduledReportsWorkflow]
