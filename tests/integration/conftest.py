"""Fixtures shared by the integration tests of one module."""

from __future__ import annotations

import pytest

from tests.integration.customers_helpers import customer_stack


@pytest.fixture
async def cstack(db_url, engine, ts_env):
    """A stack wired to the fake SumSub (customer tests)."""
    async with customer_stack(db_url, engine, ts_env.client) as s:
        yield s
