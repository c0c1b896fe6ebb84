"""The Powerwall bridge as a real process (`wattbus run powerwall`) under the production ACL,
against the fake gateway over TLS: what a container runs, logged in as user `powerwall`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from support.home import Home
from support.mqtt import observer
from support.powerwall import PASSWORD
from wattbus_simulator.fake_powerwall import FakePowerwall, PowerwallState, start_fake_powerwall

STATE = "wattbus/powerwall/state"
EVENT = "wattbus/powerwall/event"
AVAILABILITY = "wattbus/powerwall/availability"


@pytest.fixture
async def gateway() -> AsyncIterator[FakePowerwall]:
    fake = await start_fake_powerwall(PowerwallState(writes="accepted"))
    try:
        yield fake
    finally:
        await fake.close()


def start_powerwall(home: Home, fake: FakePowerwall, workdir: Path) -> None:
    home.service(
        "powerwall",
        WATTBUS_POWERWALL_HOST=fake.host_and_port,
        WATTBUS_POWERWALL_PASSWORD=PASSWORD,
        WATTBUS_POWERWALL_STATE_DIR=str(workdir / "powerwall-state"),
        WATTBUS_POWERWALL_POLL_INTERVAL="1",
    )


async def test_the_bridge_process_puts_the_powerwall_on_the_bus_and_carries_a_command(
    home: Home, gateway: FakePowerwall, tmp_path: Path
) -> None:
    async with observer(home.broker) as obs:
        start_powerwall(home, gateway, tmp_path)
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online", within=30)
        state = await obs.wait_for(STATE)
        await obs.publish("wattbus/powerwall/set", {"reserve": 50, "id": "e1"})
        answer = await obs.wait_for(EVENT, lambda m: m.json.get("id") == "e1")
        shown = await obs.wait_for(STATE, lambda m: m.json["reserve"] == 50.0)
    assert (state.json["soc"], state.json["power"]) == (60.0, -1500.0)
    assert answer.json["kind"] == "applied"
    assert shown.json["operation"] == "self_consumption"
    assert gateway.state.backup_reserve_percent == 52.5
    assert (tmp_path / "powerwall-state" / "powerwall.login.json").exists()


async def test_the_ev_guard_holds_the_powerwall_and_it_gets_back_exactly_its_settings(
    home: Home, gateway: FakePowerwall, tmp_path: Path
) -> None:
    """A car charging holds the battery (backup at 100 %); when it stops, the owner's mode and
    raw reserve are back to the last digit."""
    gateway.state.real_mode, gateway.state.backup_reserve_percent = "autonomous", 36.35
    async with observer(home.broker) as obs:
        start_powerwall(home, gateway, tmp_path)
        home.service("shelly")
        home.service("controller", WATTBUS_CONTROLLER_BATTERIES="powerwall")
        await obs.wait_for(STATE, lambda m: m.json["operation"] == "autonomous", within=30)
        home.set_house_power(9000)
        held = await obs.wait_for(STATE, lambda m: m.json["hold"])
        assert (held.json["hold_route"], held.json["operation"]) == ("backup", "backup")
        assert (gateway.state.real_mode, gateway.state.backup_reserve_percent) == ("backup", 100)
        home.set_house_power(600)
        mark = obs.mark()
        released = await obs.wait_for(STATE, lambda m: not m.json["hold"], after=mark)
    assert released.json["operation"] == "autonomous"
    assert (gateway.state.real_mode, gateway.state.backup_reserve_percent) == ("autonomous", 36.35)
    assert len(gateway.state.posted) == 2  # one hold, one restore
