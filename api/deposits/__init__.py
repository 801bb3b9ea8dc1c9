"""Deposit module HTTP routes (api-surface §6, §13): accounts, deposits, withdrawals."""

from __future__ import annotations

from fastapi import APIRouter


def operator_routers() -> list[APIRouter]:
    from api.deposits import accounts, deposits, withdrawals

    return [accounts.router, deposits.router, withdrawals.router]
