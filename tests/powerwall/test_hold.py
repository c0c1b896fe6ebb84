"""The Powerwall's hold through the real broker, against the fake gateway: held is `backup`
with a 100 % reserve, and every way a hold ends (release, lease, a restart of the bridge in
between) ends with exactly the mode and reserve the owner had."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.broker import Broker
from support.mqtt import Observer, bus_settings, observer, running
from support.powerwall import PASSWORD, local_gateway
from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.models import BatteryState
from wattbus_powerwall.commands import PowerwallCommand
from wattbus_powerwall.service import make_bridge
from wattbus_powerwall.settings import PowerwallSettings
from wattbus_simulator.fake_powerwall import FakePowerwall, PowerwallState

pytestmark = pytest.mark.filterwarnings("ignore:Unverified HTTPS request")

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
LEASE = 60.0
STATE = "wattbus/powerwall/state"
EVENT = "wattbus/powerwall/event"
OWNERS = ("autonomous", 36.35)  # the owner's mode and raw reserve: 33 % in the app


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


@pytest.fixture
def owners(state: PowerwallState) -> PowerwallState:
    state.real_mode, state.backup_reserve_percent = OWNERS
    return state


@contextlib.asynccontextmanager
async def powerwall_bridge(
    broker: Broker, fake: FakePowerwall, folder: Path, clock: Clock
) -> AsyncIterator[tuple[Bridge[BatteryState, PowerwallCommand], Observer]]:
    settings = PowerwallSettings.only(
        host=fake.host_and_port, password=PASSWORD, state_dir=folder, default_lease=LEASE
    )
    bus = Bus(bus_settings(broker, "powerwall", discovery=False), settings.id)
    async with local_gateway(fake, folder) as gateway:
        await gateway.connect()
        bridge = make_bridge(settings, bus, gateway, clock=clock)
        async with observer(broker) as obs, running(bus.run()):
            await bus.connected.wait()
            yield bridge, obs


async def command(obs: Observer, body: dict[str, object], id: str) -> dict[str, object]:
    mark = obs.mark()
    await obs.publish("wattbus/powerwall/set", {**body, "id": id})
    answer = await obs.wait_for(EVENT, lambda m: m.json.get("id") == id, after=mark)
    result: dict[str, object] = answer.json
    return result


def on_device(state: PowerwallState) -> tuple[str, float]:
    return state.real_mode, state.backup_reserve_percent


async def test_a_hold_is_backup_at_100_and_its_release_gives_back_exactly_the_owners(
    broker: Broker, fake: FakePowerwall, owners: PowerwallState, tmp_path: Path
) -> None:
    clock = Clock()
    async with powerwall_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        held = await command(obs, {"hold": True, "lease": 120}, "h1")
        assert on_device(owners) == ("backup", 100.0)
        mark = obs.mark()
        clock.at(1)
        assert await bridge.poll()
        state = await obs.wait_for(STATE, lambda m: not m.retain and m.json["hold"], after=mark)
        released = await command(obs, {"hold": False}, "r1")
    assert held["kind"] == "applied"
    assert held["reason"] == "held via backup until 18:02:00"
    assert (state.json["hold_route"], state.json["operation"]) == ("backup", "backup")
    assert released["kind"] == "applied"
    assert on_device(owners) == OWNERS
    assert not (tmp_path / "powerwall.hold.json").exists()


async def test_a_lease_that_runs_out_restores_the_owners_settings_with_a_notice(
    broker: Broker, fake: FakePowerwall, owners: PowerwallState, tmp_path: Path
) -> None:
    clock = Clock()
    async with powerwall_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        assert (await command(obs, {"hold": True}, "h1"))["kind"] == "applied"
        clock.at(LEASE)
        mark = obs.mark()
        assert await bridge.poll()
        notice = await obs.wait_for(EVENT, lambda m: m.json["kind"] == "notice", after=mark)
        state = await obs.wait_for(STATE, lambda m: not (m.retain or m.json["hold"]), after=mark)
    assert notice.json["code"] == "lease_expired"
    assert notice.json["data"]["restored"]["operation"] == "autonomous"
    assert state.json["operation"] == "autonomous"
    assert on_device(owners) == OWNERS


async def test_a_bridge_restarted_mid_hold_resumes_it_and_its_release_is_exact(
    broker: Broker, fake: FakePowerwall, owners: PowerwallState, tmp_path: Path
) -> None:
    clock = Clock()
    async with powerwall_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        assert (await command(obs, {"hold": True, "lease": 600}, "h1"))["kind"] == "applied"
    record = json.loads((tmp_path / "powerwall.hold.json").read_text())
    assert record["saved"]["operation"] == "autonomous"
    clock.at(30)
    async with powerwall_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        assert bridge.state is not None and bridge.state.hold
        assert bridge.state.hold_expires == T0 + timedelta(seconds=600)
        released = await command(obs, {"hold": False}, "r1")
    assert released["kind"] == "applied"
    assert on_device(owners) == OWNERS


async def test_a_reboot_that_drops_the_hold_is_held_again_on_the_next_poll(
    broker: Broker, fake: FakePowerwall, owners: PowerwallState, tmp_path: Path
) -> None:
    clock = Clock()
    owners.boot_mode, owners.boot_reserve = OWNERS
    async with powerwall_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        assert (await command(obs, {"hold": True}, "h1"))["kind"] == "applied"
        fake.reboot()
        assert on_device(owners) == OWNERS
        clock.at(5)
        assert await bridge.poll()
        assert on_device(owners) == ("backup", 100.0)
        assert (await command(obs, {"hold": False}, "r1"))["kind"] == "applied"
    assert on_device(owners) == OWNERS


async def test_the_owners_reserve_sent_while_held_is_deferred_to_the_release(
    broker: Broker, fake: FakePowerwall, owners: PowerwallState, tmp_path: Path
) -> None:
    clock = Clock()
    async with powerwall_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        assert (await command(obs, {"hold": True}, "h1"))["kind"] == "applied"
        deferred = await command(obs, {"reserve": 40}, "s1")
        assert on_device(owners) == ("backup", 100.0)
        assert (await command(obs, {"hold": False}, "r1"))["kind"] == "applied"
    assert "deferred" in str(deferred["reason"])
    assert on_device(owners) == ("autonomous", 43.0)  # 40 % in the app


async def test_a_hold_the_gateway_refuses_is_an_error_and_leaves_nothing_behind(
    broker: Broker, fake: FakePowerwall, owners: PowerwallState, tmp_path: Path
) -> None:
    owners.writes = "refused"
    clock = Clock()
    async with powerwall_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        answer = await command(obs, {"hold": True}, "h1")
        clock.at(1)
        assert await bridge.poll()
        assert bridge.state is not None and not bridge.state.hold
    assert answer["kind"] == "error"
    assert "403" in str(answer["reason"])
    assert on_device(owners) == OWNERS
    assert not (tmp_path / "powerwall.hold.json").exists()
