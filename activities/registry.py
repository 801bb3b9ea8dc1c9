"""Build every activity the worker runs, with its adapters injected (database engine, providers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ground.settings import Settings


@dataclass
class Deps:
    engine: AsyncEngine
    settings: Settings


def build_activities(deps: Deps) -> list[Callable[..., Any]]:
    from activities.governance.activity import GovernanceActivities
    from activities.ledger.activity import LedgerActivities

    gov = GovernanceActivities(deps.engine)
    ledger = LedgerActivities(deps.engine)
    activities: list[Callable[..., Any]] = [gov.start_approval_process, gov.record_vote, ledger.post,
                                            ledger.post_many]
    activities += _customer_activities(deps)
    activities += _price_activities(deps)
    activities += _credit_activities(deps)
    activities += _deposit_activities(deps)
    activities += _time_activities(deps)
    activities += _custody_activities(deps)
    activities += _report_activities(deps)
    return activities


def _custody_activities(deps: Deps) -> list[Callable[..., Any]]:
    from activities.custody.activity import CustodyActivities

    c = CustodyActivities(deps.engine, deps.settings)
    return [c.create_wallet, c.sync_wallet, c.fail_notices, c.resolve_notice, c.poll_self_custody]


def _time_activities(deps: Deps) -> list[Callable[..., Any]]:
    from activities.time.activity import EndOfDayActivities

    eod = EndOfDayActivities(deps.engine, deps.settings)
    return [eod.dates_to_close, eod.run_step, eod.record_completion]


def _report_activities(deps: Deps) -> list[Callable[..., Any]]:
    from activities.reports.activity import ReportActivities

    r = ReportActivities(deps.engine, deps.settings)
    return [r.start_run, r.generate, r.finish_run, r.plan_scheduled]


def _deposit_activities(deps: Deps) -> list[Callable[..., Any]]:
    from activities.deposits.activity import WithdrawalActivities

    w = WithdrawalActivities(deps.engine)
    return [w.conclude_approval, w.confirm, w.cancel, w.state]


def _customer_activities(deps: Deps) -> list[Callable[..., Any]]:
    from activities.customers.activity import CustomerClassificationActivities, CustomerKycActivities
    from activities.customers.sumsub_client import SumSubClient

    s = deps.settings
    sumsub = SumSubClient(s.sumsub_base_url, s.sumsub_app_token, s.sumsub_secret_key)
    kyc = CustomerKycActivities(deps.engine, sumsub, s)
    classification = CustomerClassificationActivities(deps.engine, s)
    return [kyc.apply_kyc_notice, kyc.apply_kyc_to_deposit_accounts, kyc.create_kyc_link,
            classification.classify_customers_page]


def _price_activities(deps: Deps) -> list[Callable[..., Any]]:
    from activities.price.activity import PriceActivities
    from activities.price.bitfinex import BitfinexClient

    s = deps.settings
    price = PriceActivities(deps.engine, s, BitfinexClient(s.price_bitfinex_url))
    return [price.fetch_btc_price, price.record_btc_price]


def _credit_activities(deps: Deps) -> list[Callable[..., Any]]:
    from activities.credit.activity import (
        CollateralizationActivities,
        CreditFacilityActivities,
        LiquidationActivities,
    )

    credit = CreditFacilityActivities(deps.engine, deps.settings)
    reeval = CollateralizationActivities(deps.engine, deps.settings)
    liq = LiquidationActivities(deps.engine, deps.settings)
    return [liq.initiate_liquidation, liq.collateral_sent, liq.proceeds_received, liq.apply_proceeds, credit.conclude_customer_approval, credit.conclude_proposal, credit.record_collateral, credit.activate, credit.initiate_disbursal,
            credit.conclude_disbursal, credit.record_payment, credit.complete_facility, reeval.price_pass,
            reeval.facilities_crossing_thresholds, reeval.reevaluate_collateralization]
