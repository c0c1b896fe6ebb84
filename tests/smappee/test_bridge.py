"""The Smappee bridge on the real Mosquitto with the ACL, against the fake cloud over HTTP, on
a clock the test moves. Each poll is one `bridge.poll()`, so the test decides when it is read."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.broker import Broker
from support.clock import FakeClock
from support.mqtt import Observer, bus_settings, observer, running
from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.models import Command, MeterState
from wattbus.service import ConfigError
from wattbus_simulator.fake_smappee import FakeSmappee
from wattbus_smappee.service import make_bridge, open_client
from wattbus_smappee.settings import SmappeeSettings

STATE = "wattbus/smappee/state"
EVENT = "wattbus/smappee/event"
AVAILABILITY = "wattbus/smappee/availability"
Rig = tuple[Bridge[MeterState, Command], Observer]


@contextlib.asynccontextmanager
async def smappee_bridge(
    broker: Broker, fake: FakeSmappee, clock: FakeClock, **settings: Any
) -> AsyncIterator[Rig]:
    own = SmappeeSettings.only(url=fake.api, client_id="wattbus", client_secret="secret",
                               username="owner", password="pass", **settings)  # fmt: skip
    bus = Bus(bus_settings(broker, "smappee"), own.id)
    async with open_client(own, clock.now) as client:
        bridge = make_bridge(own, bus, client, clock=clock.now)
        async with observer(broker) as obs, running(bus.run()):
            await bus.connected.wait()
            yield bridge, obs


async def state_after_poll(rig: Rig) -> dict[str, Any]:
    bridge, obs = rig
    mark = obs.mark()
    assert await bridge.poll()
    # not a retained state of an earlier test on this broker, delivered late under load
    result: dict[str, Any] = (await obs.wait_for(STATE, lambda m: not m.retain, after=mark)).json
    return result


async def test_the_newest_block_with_its_own_time_and_span(
    broker: Broker, fake: FakeSmappee, clock: FakeClock
) -> None:
    fake.consumption = lambda _t: 2400.0
    fake.solar = lambda _t: 600.0
    async with smappee_bridge(broker, fake, clock) as rig:
        s = await state_after_poll(rig)
        await rig[1].wait_for(AVAILABILITY, lambda m: m.text == "online")
    # 12:00:10 with the cloud a minute behind: 11:50-11:55 is the newest block shown
    assert s["ts"] == "2026-06-21T11:50:00Z"
    assert (s["power"], s["load_power"], s["pv_power"], s["always_on"], s["span"]) == (
        1800.0, 2400.0, 600.0, 120.0, 300.0
    )  # fmt: skip


async def test_the_cloud_is_asked_only_once_a_newer_block_can_be_complete(
    broker: Broker, fake: FakeSmappee, clock: FakeClock
) -> None:
    async with smappee_bridge(broker, fake, clock) as rig:
        await state_after_poll(rig)
        asked = fake.count("/consumption")
        for _ in range(9):  # until 12:04:40; the 11:55 block shows at 12:01
            clock.advance(30)
            assert await rig[0].poll()
        newer = fake.count("/consumption") - asked
        state = rig[0].state
    assert state is not None and state.ts.minute == 55
    assert newer == 2  # 12:00:40 (not shown yet), 12:01:10 (there); then none until 12:05


async def test_a_cloud_error_marks_it_offline_once_and_it_recovers(
    broker: Broker, fake: FakeSmappee, clock: FakeClock
) -> None:
    async with smappee_bridge(broker, fake, clock) as rig:
        bridge, obs = rig
        await state_after_poll(rig)
        clock.advance(600)
        fake.fail(503)
        mark = obs.mark()
        assert not await bridge.poll()
        event = await obs.wait_for(EVENT, after=mark)
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline", after=mark)
        clock.advance(60)
        s = await state_after_poll(rig)
    assert event.json["kind"] == "error" and "HTTP 503" in event.json["reason"]
    assert s["ts"] == "2026-06-21T12:05:00Z"


@pytest.mark.parametrize("topic", ["wattbus/smappee/set", "wattbus/smappee/set/power"])
async def test_a_meter_takes_no_commands(
    broker: Broker, fake: FakeSmappee, clock: FakeClock, topic: str
) -> None:
    async with smappee_bridge(broker, fake, clock) as rig:
        bridge, obs = rig
        await state_after_poll(rig)
        mark = obs.mark()
        await obs.publish(topic, {"power": 5})
        event = await obs.wait_for(EVENT, after=mark)
        assert await bridge.poll()
    assert event.json["kind"] == "rejected"
    assert event.json["reason"] == "smappee takes no commands"
    assert bridge.state is not None and bridge.state.power == 450.0  # nothing changed


async def test_a_location_the_login_does_not_see_stops_it_with_the_ones_it_does(
    broker: Broker, fake: FakeSmappee, clock: FakeClock
) -> None:
    fake.locations = {1: "Home", 2: "Cabin"}
    async with smappee_bridge(broker, fake, clock, service_location=7) as (bridge, _):
        with pytest.raises(ConfigError, match=r"7 is not one of the login's: 1 \(Home\), 2"):
            await bridge.poll()


async def test_with_several_locations_and_none_set_it_asks_for_one(
    broker: Broker, fake: FakeSmappee, clock: FakeClock
) -> None:
    fake.locations = {1: "Home", 2: "Cabin"}
    async with smappee_bridge(broker, fake, clock) as (bridge, _):
        with pytest.raises(ConfigError, match="SERVICE_LOCATION is required"):
            await bridge.poll()
