"""Credit module HTTP routes (terms templates; facilities later)."""

from __future__ import annotations

from fastapi import APIRouter


def operator_routers() -> list[APIRouter]:
    from api.credit import terms_templates

    return [terms_templates.router]
