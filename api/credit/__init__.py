"""Credit module HTTP routes: terms templates, facilities (proposal → pending → active), disbursals,
interest and obligations, payments and completion."""

from __future__ import annotations

from fastapi import APIRouter


def operator_routers() -> list[APIRouter]:
    from api.credit import (
        disbursals,
        facilities,
        lifecycle,
        liquidations,
        payments,
        statement,
        terms_templates,
    )

    return [terms_templates.router, facilities.router, disbursals.router, lifecycle.router, payments.router,
            statement.router, liquidations.router]
