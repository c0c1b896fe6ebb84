"""The parts of `wattbus demo --meter smappee` that the run in test_demo.py cannot show one by
one: the fake cloud's blocks are the averages of what the household's meter showed, and the
view shows the newest block where a Shelly's phases would be."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console
from wattbus_simulator.demo_smappee import KEPT, GridHistory, SmappeeView, demo_clock
from wattbus_simulator.demo_view import BrokerAccess
from wattbus_simulator.fake_smappee import FakeSmappee
from wattbus_simulator.home import simulated_home

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def test_a_block_is_the_average_of_what_the_meter_showed_in_it() -> None:
    """The car comes half way through the block: half of its 11 kW is in the block's Wh."""
    history = GridHistory()
    history.add(T0 - timedelta(minutes=1), 500.0)
    history.add(T0 + timedelta(seconds=150), 11_500.0)
    block = FakeSmappee(consumption=history).block(T0)
    assert block["consumption"] == pytest.approx((500 + 11_500) / 2 / 12, rel=0.01)
    assert history(T0 - timedelta(hours=1)) == 500.0  # before the first reading: the first


def test_the_history_forgets_what_the_bridge_never_asks_for() -> None:
    history = GridHistory()
    for minute in range(120):
        history.add(T0 + timedelta(minutes=minute), float(minute))
    assert history.times[0] >= history.times[-1] - KEPT
    assert history(T0 + timedelta(minutes=100, seconds=30)) == 100.0


def test_the_demos_clock_starts_on_a_block() -> None:
    start = demo_clock(100.0).start
    assert (start.minute % 5, start.second, start.microsecond) == (0, 0, 0)


async def test_the_view_shows_the_newest_block_and_the_meters_availability() -> None:
    async with simulated_home() as home:
        view = SmappeeView(home, BrokerAccess("127.0.0.1", 1883, "mosquitto"), demo_clock(1.0))
        block = {"ts": "2026-12-01T18:45:00Z", "power": 11612.4, "span": 300}
        view.take("wattbus/smappee/state", json.dumps(block).encode())
        view.take("wattbus/smappee/availability", b"online")
        console = Console(file=io.StringIO(), width=200, record=True)
        console.print(view.render())
    grid = next(line for line in console.export_text().splitlines() if "grid " in line)
    assert "11612 W   5-minute block from 18:45 UTC   [online]" in grid
