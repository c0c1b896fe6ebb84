"""How each kind of charger is told the charging policy's order, and how its state shows it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from wattbus.commands import parse_command
from wattbus.models import ChargerMode, ChargerState, ChargingStrategy, Command
from wattbus_controller.drives import Order, command, shows
from wattbus_controller.settings import ChargerKind
from wattbus_myenergi.commands import ZappiCommand
from wattbus_nrgkick.commands import NrgkickCommand
from wattbus_smartevse.commands import SmartEVSECommand

NOW = datetime(2026, 6, 21, 12, tzinfo=UTC)
TRACKED = ChargingStrategy.TRACKED


@pytest.mark.parametrize(
    ("kind", "order", "fields"),
    [
        ("nrgkick", Order(8.0, None, TRACKED), {"mode": "normal", "current": 8.0}),
        ("nrgkick", Order(8.0, 1, TRACKED), {"mode": "normal", "current": 8.0, "phases": 1}),
        ("nrgkick", Order(None, None, TRACKED), {"mode": "pause"}),
        ("smartevse", Order(8.0, 3, TRACKED), {"mode": "normal", "current_override": 8.0}),
        ("smartevse", Order(None, None, TRACKED), {"mode": "off"}),
        ("zappi", Order(8.0, 3, TRACKED), {"mode_name": "Eco+"}),
        ("zappi", Order(6.0, 1, ChargingStrategy.MIN_PV), {"mode_name": "Eco"}),
        ("zappi", Order(16.0, 3, ChargingStrategy.FAST), {"mode_name": "Fast"}),
        ("zappi", Order(None, None, ChargingStrategy.OFF), {"mode_name": "Stopped"}),
    ],
)
def test_each_kind_gets_its_own_fields(
    kind: ChargerKind, order: Order, fields: dict[str, object]
) -> None:
    assert command(kind, order) == fields


def test_a_state_shows_an_order_only_when_it_matches() -> None:
    paused = ChargerState(ts=NOW, charging=False, mode=ChargerMode.PAUSE)
    at_8 = ChargerState(ts=NOW, charging=True, mode=ChargerMode.NORMAL, current=8.0)
    assert shows("nrgkick", Order(None, None, TRACKED), paused)
    assert not shows("nrgkick", Order(8.0, None, TRACKED), paused)
    assert shows("nrgkick", Order(8.0, None, TRACKED), at_8)
    assert not shows("nrgkick", Order(9.0, None, TRACKED), at_8)
    override = ChargerState(ts=NOW, charging=True, mode=ChargerMode.NORMAL, current_override=8.0)
    assert shows("smartevse", Order(8.0, None, TRACKED), override)
    assert not shows("smartevse", Order(None, None, TRACKED), override)
    eco = ChargerState(ts=NOW, charging=True, mode_name="Eco+")
    assert shows("zappi", Order(7.0, None, TRACKED), eco)
    assert not shows("zappi", Order(16.0, None, ChargingStrategy.FAST), eco)


@pytest.mark.parametrize("kind", ["nrgkick", "smartevse", "zappi"])
@pytest.mark.parametrize(
    "order",
    [Order(8.0, None, TRACKED), Order(8.0, 1, TRACKED), Order(None, None, TRACKED),
     Order(16.0, 3, ChargingStrategy.FAST), Order(None, None, ChargingStrategy.OFF)],
)  # fmt: skip
def test_every_order_is_a_command_its_bridge_accepts(kind: ChargerKind, order: Order) -> None:
    """The controller and the bridges agree on the fields: each bridge's own command model
    takes what the controller sends it, through the same parser as on the bus."""
    models: dict[str, type[Command]] = {
        "nrgkick": NrgkickCommand, "smartevse": SmartEVSECommand, "zappi": ZappiCommand,
    }  # fmt: skip
    model = models[kind]
    topic = f"wattbus/{kind}/set"
    sent = parse_command(model, topic, topic, json.dumps(command(kind, order)).encode())
    assert sent.model_dump(exclude_none=True) == command(kind, order)
