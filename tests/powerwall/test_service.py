"""The Powerwall bridge on a real Mosquitto, against the fake gateway over TLS, polled by the
test with the test's clock: its state, a wrong password, commands read back, a refused write."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.broker import Broker
from support.mqtt import Observer, bus_settings, observer, running
from support.powerwall import PASSWORD, local_gateway
from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.commands import CommandError
from wattbus.discovery import DeviceInfo, device_config
from wattbus.models import BatteryState
from wattbus.settings import BusSettings
from wattbus.topics import Topics
from wattbus_powerwall.commands import PowerwallCommand
from wattbus_powerwall.service import entities, make_bridge, make_gateway
from wattbus_powerwall.settings import PowerwallSettings
from wattbus_simulator.fake_powerwall import FakePowerwall, PowerwallState, start_fake_powerwall

pytestmark = pytest.mark.filterwarnings("ignore:Unverified HTTPS request")

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
STATE = "wattbus/powerwall/state"
EVENT = "wattbus/powerwall/event"
AVAILABILITY = "wattbus/powerwall/availability"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


@contextlib.asynccontextmanager
async def powerwall_bridge(
    broker: Broker, fake: FakePowerwall, folder: Path, password: str = PASSWORD
) -> AsyncIterator[tuple[Bridge[BatteryState, PowerwallCommand], Observer, Clock]]:
    settings = PowerwallSettings.only(host=fake.host_and_port, password=password, state_dir=folder)
    bus = Bus(bus_settings(broker, "powerwall", discovery=False), settings.id)
    clock = Clock()
    async with local_gateway(fake, folder, password) as gateway:
        await gateway.connect()
        bridge = make_bridge(settings, bus, gateway, clock=clock)  # its routes, before connecting
        async with observer(broker) as obs, running(bus.run()):
            await bus.connected.wait()
            yield bridge, obs, clock


async def command(obs: Observer, body: dict[str, object], id: str) -> dict[str, object]:
    mark = obs.mark()
    await obs.publish("wattbus/powerwall/set", {**body, "id": id})
    answer = await obs.wait_for(EVENT, lambda m: m.json.get("id") == id, after=mark)
    result: dict[str, object] = answer.json
    return result


async def test_a_poll_publishes_the_gateways_state_online(
    broker: Broker, fake: FakePowerwall, tmp_path: Path
) -> None:
    async with powerwall_bridge(broker, fake, tmp_path) as (bridge, obs, _):
        assert await bridge.poll()
        state = await obs.wait_for(STATE, lambda m: not m.retain)  # not one left retained
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
    assert state.json == {
        "ts": "2026-12-01T18:00:00Z", "soc": 60.0, "power": -1500.0, "pv_power": 0.0,
        "output_home_power": 1500.0, "grid_input_power": 0.0,
        "site_power": 0.0, "load_power": 1500.0, "reserve": 20.0,
        "operation": "self_consumption", "hold": False,
    }  # fmt: skip
    assert bridge.device.info.name == "My Home"
    assert bridge.device.info.serial == fake.state.din


async def test_a_wrong_password_is_an_error_event_and_offline_and_the_bridge_lives_on(
    broker: Broker, fake: FakePowerwall, state: PowerwallState, tmp_path: Path
) -> None:
    async with powerwall_bridge(broker, fake, tmp_path, password="WRONG") as (bridge, obs, c):
        assert not await bridge.poll()
        error = await obs.wait_for(EVENT, lambda m: m.json["kind"] == "error")
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline" and not m.retain)
        assert not await bridge.poll()  # said once, not on every poll
        state.password = "WRONG"  # the owner changes the gateway's password to the bridge's
        c.at(30)
        assert await bridge.poll()
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
    assert "refused the login" in error.json["reason"]
    assert len([m for m in obs.messages if m.topic == EVENT]) == 1


async def test_a_reserve_and_an_operation_are_applied_and_read_back(
    broker: Broker, fake: FakePowerwall, state: PowerwallState, tmp_path: Path
) -> None:
    async with powerwall_bridge(broker, fake, tmp_path) as (bridge, obs, clock):
        assert await bridge.poll()
        answer = await command(obs, {"reserve": 35, "operation": "autonomous"}, "c1")
        mark = obs.mark()
        clock.at(1)
        assert await bridge.poll()
        shown = await obs.wait_for(STATE, lambda m: not m.retain, after=mark)
    assert answer["kind"] == "applied"
    assert answer["reason"] == "operation autonomous, reserve 35 %: applied"
    assert (state.real_mode, state.backup_reserve_percent) == ("autonomous", 38.25)
    assert (shown.json["operation"], shown.json["reserve"]) == ("autonomous", 35.0)


async def test_a_dropped_mode_is_written_again_before_the_answer(
    broker: Broker, fake: FakePowerwall, state: PowerwallState, tmp_path: Path
) -> None:
    state.drop = ["real_mode"]
    async with powerwall_bridge(broker, fake, tmp_path) as (bridge, obs, _):
        assert await bridge.poll()
        answer = await command(obs, {"operation": "backup"}, "c1")
    assert answer["kind"] == "applied"
    assert state.real_mode == "backup"
    assert len(state.posted) == 2


async def test_a_write_refused_403_is_an_error_saying_which_route_writes(
    broker: Broker, fake: FakePowerwall, state: PowerwallState, tmp_path: Path
) -> None:
    state.writes = "refused"
    async with powerwall_bridge(broker, fake, tmp_path) as (bridge, obs, _):
        assert await bridge.poll()
        answer = await command(obs, {"reserve": 50}, "c1")
        assert await bridge.poll()
    assert answer["kind"] == "error"
    assert "HTTP 403" in str(answer["reason"])
    assert "fleetapi or cloud" in str(answer["reason"])
    assert state.backup_reserve_percent == 24.0
    assert bridge.available is True  # it answered: it is online, only not writable


async def test_a_badly_typed_command_is_rejected_and_nothing_is_written(
    broker: Broker, fake: FakePowerwall, state: PowerwallState, tmp_path: Path
) -> None:
    async with powerwall_bridge(broker, fake, tmp_path) as (bridge, obs, _):
        assert await bridge.poll()
        answers = [
            await command(obs, {"reserve": True}, "c1"),
            await command(obs, {"operation": "storm_watch"}, "c2"),
            await command(obs, {"reserve": 30, "lease": 60}, "c3"),
        ]
    assert [a["kind"] for a in answers] == ["rejected"] * 3
    assert state.posted == []


async def test_a_reserve_above_80_is_refused_on_the_cloud_routes(tmp_path: Path) -> None:
    """Built, never connected: the check comes before anything leaves the machine."""
    settings = PowerwallSettings.only(route="cloud", email="me@example.com", state_dir=tmp_path)
    bus = Bus(BusSettings.only(), settings.id)  # never run: nothing connects
    bridge = make_bridge(settings, bus, make_gateway(settings))
    with pytest.raises(CommandError, match=r"route cloud takes \(0-80 %\)"):
        await bridge.device.apply(PowerwallCommand(reserve=90), T0)


def test_the_service_without_its_gateways_host_exits_2_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wattbus", "run", "powerwall"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "wattbus: powerwall: WATTBUS_POWERWALL_HOST is required"
    ]


def test_home_assistant_offers_the_routes_own_reserve_range_and_the_modes() -> None:
    local = {e.key: e for e in entities(100.0)}
    remote = {e.key: e for e in entities(80.0)}
    assert (local["reserve"].maximum, remote["reserve"].maximum) == (100.0, 80.0)
    config = device_config(Topics(), DeviceInfo("powerwall", "My Home", "Tesla", "Powerwall"),
                           entities(80.0))  # fmt: skip
    operation = config["cmps"]["operation"]
    assert operation["options"] == ["self_consumption", "backup", "autonomous"]
    assert operation["command_topic"] == "wattbus/powerwall/set/operation"
    assert config["cmps"]["reserve"]["max"] == 80.0
    assert "command_topic" not in config["cmps"]["held"]


async def test_a_gateway_gone_and_back_is_offline_then_online_with_a_new_login(
    broker: Broker, fake: FakePowerwall, state: PowerwallState, tmp_path: Path
) -> None:
    async with powerwall_bridge(broker, fake, tmp_path) as (bridge, obs, clock):
        assert await bridge.poll()
        port = fake.port
        await fake.close()
        clock.at(5)
        assert not await bridge.poll()
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline" and not m.retain)
        back = await start_fake_powerwall(state, port=port)  # its logins are new ones
        try:
            clock.at(10)
            mark = obs.mark()
            assert await bridge.poll()
            await obs.wait_for(AVAILABILITY, lambda m: m.text == "online", after=mark)
        finally:
            await back.close()
    assert state.logins == 2
