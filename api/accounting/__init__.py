"""Accounting HTTP routes: chart of accounts, module configs, statements, fiscal years, manual transactions."""

from __future__ import annotations

from fastapi import APIRouter


def operator_routers() -> list[APIRouter]:
    from api.accounting import chart, periods, statements

    return [chart.router, chart.config_router, statements.router, periods.router]
