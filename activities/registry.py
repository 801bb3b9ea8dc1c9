"""Build every activity the worker runs, with its adapters injected (database engine, providers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class Deps:
    engine: AsyncEngine
    settings: Any


def build_activities(deps: Deps) -> list[Callable[..., Any]]:
    from activities.ledger.activity import LedgerActivities

    ledger = LedgerActivities(deps.engine)
    activities: list[Callable[..., Any]] = [ledger.post]
    return activities
