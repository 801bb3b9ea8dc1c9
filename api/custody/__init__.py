"""Custody routes (api-surface §9): custodians, a facility's custody wallet."""

from __future__ import annotations

from fastapi import APIRouter


def operator_routers() -> list[APIRouter]:
    from api.custody import custodians, wallets

    return [custodians.router, wallets.router]
