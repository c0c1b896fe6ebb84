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


BLOCK = 300.0  # s: a Smappee's 5-minute block


@pytest.mark.parametrize(
    ("age", "usable"),
    [
        (BLOCK + 240, True),  # the newest complete block, four minutes after its end
        (2 * BLOCK + 200, True),  # one block behind: the cloud has not shown the next yet
        (3 * BLOCK + 29, True),  # within the limit past two blocks behind
        (3 * BLOCK + 31, False),  # two blocks behind the newest: the meter is not reporting
    ],
)
def test_a_block_is_fresh_until_two_newer_blocks_should_have_come(age: float, usable: bool) -> None:
    """A 5-minute block lands minutes after its `ts`: without its span a 30 s limit would
    throw every one away, and one two blocks late would look as good as a new one."""
    block = MeterState(ts=NOW - timedelta(seconds=age), power=100.0, span=BLOCK)
    assert (fresh(block, NOW, 30.0) is block) is usable


def test_a_span_gives_no_slack_to_a_state_stamped_ahead() -> None:
    block = MeterState(ts=NOW + timedelta(seconds=31), power=100.0, span=BLOCK)
    assert fresh(block, NOW, 30.0) is None


def test_an_instant_reading_as_old_as_a_fresh_block_is_stale() -> None:
    """A dead Shelly's last reading never profits from a Smappee's slack."""
    reading = MeterState(ts=NOW - timedelta(seconds=BLOCK + 240), power=100.0)
    assert fresh(reading, NOW, 30.0) is None
