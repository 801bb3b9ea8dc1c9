"""Custody routes (api-surface §9): custodians, a facility's custody wallet; custodian webhooks
(public, signature-checked) and their inbox events."""

from __future__ import annotations

from fastapi import APIRouter


def operator_routers() -> list[APIRouter]:
    from api.custody import custodians, wallets, webhooks

    return [custodians.router, wallets.router, webhooks.events_router]


def public_routers() -> list[APIRouter]:
    """Routes outside /api/v1 and without bearer auth (webhook signatures instead)."""
    from api.custody import webhooks

    return [webhooks.router]
