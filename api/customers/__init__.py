"""Customer module HTTP routes: customers and KYC, documents, SumSub webhook, local-storage links."""

from __future__ import annotations

from fastapi import APIRouter


def operator_routers() -> list[APIRouter]:
    from api.customers import documents, router

    return [router.router, documents.router]


def public_routers() -> list[APIRouter]:
    """Routes outside /api/v1 and without bearer auth (webhook signature / signed links instead)."""
    from api.customers import local_storage, webhooks

    return [webhooks.router, local_storage.router]
