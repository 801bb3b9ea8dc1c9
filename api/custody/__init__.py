"""Custody routes (api-surface §9): custodians."""

from __future__ import annotations

from fastapi import APIRouter


def operator_routers() -> list[APIRouter]:
    from api.custody import custodians

    return [custodians.router]
