"""The Zendure bridge on a real Mosquitto, polled by the test: what a hold that ends on its own
says on the bus (also when the broker was away then), and that a device refusing a restore
stays online. The bridge's clock is the
test's, so a lease runs out when the test says, and each poll is one `bridge.poll()`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.broker import Broker
from support.mqtt import WAIT, Observer, bus_settings, observer, running
from wattbus.bridge import UNSENT_MAX, Bridge, DeviceEvent
from wattbus.bus import Bus
from wattbus.hold import RESTORE_ATTEMPTS
from wattbus.models import BatteryCommand, BatteryState, EventKind
from wattbus.stopping import stop
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState
from wattbus_zendure.client import SolarFlow
from wattbus_zendure.service import make_bridge
from wattbus_zendure.settings import ZendureSettings

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
LEASE = 60.0
EVENT = "wattbus/zendure/event"
AVAILABILITY = "wattbus/zendure/availability"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = T0 + timedelta(seconds=seconds)


@contextlib.asynccontextmanager
async def zendure_bridge(
    broker: Broker, fake: FakeZendure, state_dir: Path, clock: Clock
) -> AsyncIterator[tuple[Bridge[BatteryState, BatteryCommand], Observer]]:
    settings = ZendureSettings.only(
        host=fake.host, port=fake.port, state_dir=state_dir, default_lease=LEASE
    )
    bus = Bus(bus_settings(broker, "zendure", discovery=False), settings.id)
    async with SolarFlow(fake.host, port=fake.port) as flow:
        bridge = make_bridge(settings, bus, flow, clock=clock)  # its routes, before connecting
        async with observer(broker) as obs, running(bus.run()):
            await bus.connected.wait()
            yield bridge, obs


async def command(obs: Observer, body: dict[str, object], id: str) -> dict[str, object]:
    mark = obs.mark()
    await obs.publish("wattbus/zendure/set", {**body, "id": id})
    answer = await obs.wait_for(EVENT, lambda m: m.json.get("id") == id, after=mark)
    result: dict[str, object] = answer.json
    return result


async def test_a_lease_that_runs_out_is_a_notice_on_the_bus(
    broker: Broker, fake: FakeZendure, tmp_path: Path
) -> None:
    clock = Clock()
    async with zendure_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        assert (await command(obs, {"hold": True}, "h1"))["kind"] == "applied"
        clock.at(LEASE)
        mark = obs.mark()
        assert await bridge.poll()
        notice = await obs.wait_for(EVENT, lambda m: m.json.get("kind") == "notice", after=mark)
    assert notice.json["code"] == "lease_expired"
    assert notice.json["data"]["restored"] == {"min_soc": 15.0, "output_limit": 800.0}
    assert fake.state.properties["minSoc"] == 150


async def test_a_lease_that_runs_out_while_the_broker_is_away_is_a_notice_once_it_is_back(
    own_broker: Broker, fake: FakeZendure, tmp_path: Path
) -> None:
    """The README promises the lease's end "says so" when the broker is gone: the battery gets
    its settings back then, and the notice waits for the broker instead of being dropped. The
    bus is started again only once the test listens, so the notice cannot pass unseen."""
    clock = Clock()
    settings = ZendureSettings.only(
        host=fake.host, port=fake.port, state_dir=tmp_path, default_lease=LEASE
    )
    bus = Bus(bus_settings(own_broker, "zendure", discovery=False), settings.id)
    async with SolarFlow(fake.host, port=fake.port) as flow:
        bridge = make_bridge(settings, bus, flow, clock=clock)
        async with running(bus.run()) as serving:
            async with observer(own_broker) as obs:
                await asyncio.wait_for(bus.connected.wait(), WAIT)
                assert await bridge.poll()
                assert (await command(obs, {"hold": True}, "h1"))["kind"] == "applied"
            own_broker.stop()
            clock.at(LEASE)
            assert await bridge.poll()
            assert fake.state.properties["minSoc"] == 150  # restored, with nobody to tell
            await stop(serving)
        own_broker.start()  # on the same port
        async with observer(own_broker) as obs, running(bus.run()):
            notice = await obs.wait_for(EVENT, lambda m: m.json.get("kind") == "notice")
    assert notice.json["code"] == "lease_expired"
    assert notice.json["data"]["restored"] == {"min_soc": 15.0, "output_limit": 800.0}


async def test_at_most_a_hundred_events_wait_for_the_broker_and_a_dropped_one_is_logged(
    broker: Broker, fake: FakeZendure, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ZendureSettings.only(host=fake.host, port=fake.port, state_dir=tmp_path)
    bus = Bus(bus_settings(broker, "zendure", discovery=False), settings.id)
    async with SolarFlow(fake.host, port=fake.port) as flow:
        bridge = make_bridge(settings, bus, flow, clock=Clock())
        assert bridge.outbox is not None
        for n in range(UNSENT_MAX + 1):
            bridge.outbox.put(DeviceEvent(EventKind.NOTICE, f"n{n}", "a test's notice"))
        assert await bridge.poll()  # not connected: nothing can go yet
        async with observer(broker) as obs, running(bus.run()):
            await obs.wait_for(EVENT, lambda m: m.json.get("code") == f"n{UNSENT_MAX}")
    codes = [m.json.get("code") for m in obs.messages if m.topic == EVENT]
    assert codes == [f"n{n}" for n in range(1, UNSENT_MAX + 1)]
    assert "dropped notice n0" in caplog.text


async def test_a_device_refusing_the_hold_after_a_reboot_stays_online(
    broker: Broker, fake: FakeZendure, tmp_path: Path
) -> None:
    clock = Clock()
    async with zendure_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        assert (await command(obs, {"hold": True}, "h1"))["kind"] == "applied"
        # a reboot brings back the flash minSoc, and this firmware now answers 400 to 1000
        fake.state.min_soc_above_50 = "refused"
        fake.state.properties["minSoc"] = 150
        mark = obs.mark()
        clock.at(1)
        assert await bridge.poll()
        state = await obs.wait_for("wattbus/zendure/state", after=mark)
        assert not [
            m
            for m in obs.messages[mark:]
            # retained: an earlier test's bridge on the shared broker, delivered on subscribe
            if m.topic == AVAILABILITY and m.text != "online" and not m.retain
        ]
    assert bridge.available is True
    assert state.json["hold"] is True


async def test_a_restore_refused_at_lease_end_ends_unheld_with_an_error_on_the_bus(
    broker: Broker, fake: FakeZendure, state: ZendureState, tmp_path: Path
) -> None:
    # held by outputLimit on firmware that answers 400 to minSoc above 50 %, by an older
    # bridge that saved a deferred 60 % without checking it
    state.min_soc_above_50 = "refused"
    state.properties["outputLimit"] = 0
    record = {
        "version": 2,
        "saved": {"min_soc": 60.0, "output_limit": 800.0, "smart_mode": 1},
        "route": "output_limit",
        "since": T0.isoformat(),
        "expires": (T0 + timedelta(seconds=LEASE)).isoformat(),
    }
    await asyncio.to_thread((tmp_path / "zendure.hold.json").write_text, json.dumps(record))
    clock = Clock()
    async with zendure_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        assert bridge.state is not None and bridge.state.hold
        mark = obs.mark()
        for poll in range(RESTORE_ATTEMPTS):
            clock.at(LEASE + poll)
            assert await bridge.poll()
        failed = await obs.wait_for(EVENT, lambda m: m.json.get("kind") == "error", after=mark)
        released = await obs.wait_for("wattbus/zendure/state", lambda m: not m.json["hold"])
        assert not [
            m
            for m in obs.messages[mark:]
            # retained: an earlier test's bridge on the shared broker, delivered on subscribe
            if m.topic == AVAILABILITY and m.text != "online" and not m.retain
        ]
    assert failed.json["code"] == "restore_failed"
    assert failed.json["data"]["written"] == {"min_soc": 10.0}
    assert released.json["output_limit"] == 800.0
    assert bridge.available is True
    assert (state.properties["outputLimit"], state.properties["minSoc"]) == (800, 100)


async def test_a_release_that_failed_is_retried_by_the_next_poll(
    broker: Broker, fake: FakeZendure, state: ZendureState, tmp_path: Path
) -> None:
    clock = Clock()
    async with zendure_bridge(broker, fake, tmp_path, clock) as (bridge, obs):
        assert await bridge.poll()
        assert (await command(obs, {"hold": True}, "h1"))["kind"] == "applied"
        assert await bridge.poll()
        assert bridge.state is not None and bridge.state.hold
        fake.faults.status_500 = True
        assert (await command(obs, {"hold": False}, "r1"))["kind"] == "error"
        fake.faults.status_500 = False
        mark = obs.mark()
        clock.at(1)
        assert await bridge.poll()
        released = await obs.wait_for("wattbus/zendure/state", after=mark)
    assert released.json["hold"] is False
    assert state.properties["minSoc"] == 150
