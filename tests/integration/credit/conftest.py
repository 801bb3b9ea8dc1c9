"""Fixtures of the credit integration tests."""

import pytest

from tests.harness import Stack


@pytest.fixture
async def credit_stack(db_url, engine, ts_env):
    """API + worker, KYC not required (the credit module's own checks are what is tested)."""
    async with Stack.start(db_url, engine, ts_env.client, kyc_required=False) as stack:
        yield stack
