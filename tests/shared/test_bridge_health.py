"""A bridge's health on a real broker: when its device last answered and how many reads in a
row have failed, and availability that goes offline only after `offline_after` of them. The
device is a meter the test turns off and on; each poll is the test's own call, so every
failure is counted where the test says."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

from support.broker import Broker
from support.mqtt import Msg, Observer, bus_settings, observer, running
from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.discovery import DeviceInfo
from wattbus.models import BridgeHealth, Command, MeterState

HEALTH = "wattbus/grid-meter/health"
AVAILABILITY = "wattbus/grid-meter/availability"
EVENT = "wattbus/grid-meter/event"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class MeterDown(Exception):
    pass


class Meter:
    info = DeviceInfo("grid-meter", "Test meter", "test", "test")

    def __init__(self) -> None:
        self.down = False

    async def read(self, now: datetime) -> MeterState:
        if self.down:
            raise MeterDown("no answer in 3 s")
        return MeterState(ts=now, power=100.0)

    async def apply(self, command: Command, now: datetime) -> str:
        raise NotImplementedError


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@contextlib.asynccontextmanager
async def rig(
    broker: Broker, offline_after: int
) -> AsyncIterator[tuple[Bridge[MeterState, Command], Meter, Clock, Observer]]:
    meter, clock = Meter(), Clock()
    settings = bus_settings(broker, "grid-meter", discovery=False, offline_after=offline_after)
    bus = Bus(settings, "grid-meter")
    bridge: Bridge[MeterState, Command] = Bridge(
        bus, meter, entities=(), command_model=None, errors=(MeterDown,), interval=3600,
        clock=clock,
    )  # fmt: skip
    async with observer(broker, "owner") as obs, running(bus.run()):
        await bus.connected.wait()
        yield bridge, meter, clock, obs


async def all_said(bridge: Bridge[MeterState, Command], obs: Observer) -> None:
    """Wait until the observer has everything the bridge published so far: one connection's
    messages arrive in the order they were sent, so a marker after them comes last."""
    mark = obs.mark()
    await bridge.bus.publish(EVENT, b"marker", qos=1)
    await obs.wait_for(EVENT, lambda m: m.payload == b"marker", after=mark)


def health(m: Msg) -> BridgeHealth:
    return BridgeHealth.model_validate_json(m.payload)


def failures(n: int) -> Callable[[Msg], bool]:
    return lambda m: health(m).failures == n


async def test_availability_goes_offline_at_the_third_failure_and_health_counts_each(
    own_broker: Broker,
) -> None:
    async with rig(own_broker, offline_after=3) as (bridge, meter, clock, obs):
        assert await bridge.poll()
        first = await obs.wait_for(HEALTH, failures(0))
        assert health(first).last_success == T0
        meter.down = True
        for n in (1, 2):
            clock.now += timedelta(seconds=1)
            mark = obs.mark()
            assert not await bridge.poll()
            said = health(await obs.wait_for(HEALTH, failures(n), after=mark))
            assert (said.last_success, said.error) == (T0, "no answer in 3 s")
            assert bridge.available is True  # two failures are no outage yet
        clock.now += timedelta(seconds=1)
        mark = obs.mark()
        assert not await bridge.poll()
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline", after=mark)
        error = await obs.wait_for(EVENT, lambda m: m.json["kind"] == "error", after=mark)
        assert "no answer" in error.json["reason"]
        assert health(await obs.wait_for(HEALTH, failures(3), after=mark)).last_success == T0

        meter.down = False
        clock.now += timedelta(seconds=1)
        mark = obs.mark()
        assert await bridge.poll()
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online", after=mark)
        back = health(await obs.wait_for(HEALTH, failures(0), after=mark))
        assert (back.last_success, back.error) == (clock.now, None)


async def test_a_failure_between_good_reads_never_takes_the_device_offline(
    own_broker: Broker,
) -> None:
    async with rig(own_broker, offline_after=3) as (bridge, meter, clock, obs):
        assert await bridge.poll()
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
        for _ in range(3):
            meter.down = True
            clock.now += timedelta(seconds=1)
            assert not await bridge.poll()
            meter.down = False
            clock.now += timedelta(seconds=1)
            assert await bridge.poll()
        clock.now += timedelta(seconds=1)
        assert await bridge.poll()
        await all_said(bridge, obs)
        assert "offline" not in [m.text for m in obs.messages if m.topic == AVAILABILITY]
        assert [health(m).failures for m in obs.messages if m.topic == HEALTH] == [
            0, 1, 0, 1, 0, 1, 0
        ]  # fmt: skip


async def test_a_steady_device_says_its_health_with_the_heartbeat_not_every_read(
    own_broker: Broker,
) -> None:
    async with rig(own_broker, offline_after=3) as (bridge, _meter, clock, obs):
        for _ in range(12):  # 11 s of reads, a second apart: the 10 s heartbeat once
            assert await bridge.poll()
            clock.now += timedelta(seconds=1)
        assert await bridge.poll()
        await all_said(bridge, obs)
        said = [health(m).last_success for m in obs.messages if m.topic == HEALTH]
        assert said == [T0, T0 + timedelta(seconds=10)]
