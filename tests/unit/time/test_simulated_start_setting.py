"""``simulated_clock_start``: an instant with its offset, or nothing (the wall clock)."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ground.settings import Settings


def test_the_start_needs_an_offset():
    assert Settings(simulated_clock_start="2025-01-15T10:00:00Z").simulated_clock_start == datetime(
        2025, 1, 15, 10, tzinfo=UTC)
    assert Settings().simulated_clock_start is None
    with pytest.raises(ValidationError, match="UTC offset"):
        Settings(simulated_clock_start="2025-01-15T10:00:00")
