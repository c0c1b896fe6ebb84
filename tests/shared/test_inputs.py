"""A state is fresh while it is younger than the limit, and no fresher for being stamped ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wattbus.inputs import fresh
from wattbus.models import MeterState

NOW = datetime(2026, 6, 21, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("offset", "usable"), [(0, True), (-29, True), (-31, False), (29, True), (31, False)]
)
def test_fresh_only_within_the_limit_either_way(offset: float, usable: bool) -> None:
    state = MeterState(ts=NOW + timedelta(seconds=offset), power=100.0)
    assert (fresh(state, NOW, 30.0) is state) is usable
    assert fresh(None, NOW, 30.0) is None
