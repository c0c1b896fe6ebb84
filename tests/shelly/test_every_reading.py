"""A meter bridge publishes every reading, changed or not, so a state's `ts` is the time of
the last read: what the SmartEVSE feed needs to tell a steady house from a dead meter. Here a
real bridge reads the fake Pro 3EM over HTTP and publishes through a real Mosquitto, with the
heartbeat an hour away, so only the every-reading rule can publish a steady reading twice."""

from __future__ import annotations

import asyncio
from datetime import datetime

from support.broker import Broker
from support.mqtt import WAIT, Msg, bus_settings, observer, running
from wattbus.bus import Bus
from wattbus_shelly.client import ShellyPro3EM
from wattbus_shelly.service import ShellyDevice, meter_bridge
from wattbus_simulator.fake_shelly import FakeShelly

HOUR = 3600.0  # s: a heartbeat or a poll tick that never comes within the test
METER = "grid-meter"  # the device id is the broker user the ACL lets publish its state
POLLS = 3


def live(m: Msg) -> bool:
    """Published now, not the broker's retained copy from before."""
    return not m.retain


async def test_a_steady_meter_still_yields_a_state_every_poll(
    own_broker: Broker, fake: FakeShelly
) -> None:
    bus = Bus(bus_settings(own_broker, METER, heartbeat=HOUR, discovery=False), METER)
    async with ShellyPro3EM("127.0.0.1", port=fake.port) as client:
        bridge = meter_bridge(bus, ShellyDevice(METER, client), interval=HOUR)
        topic = bus.topics.state(METER)
        async with observer(own_broker) as obs, running(bus.run()):
            async with asyncio.timeout(WAIT):
                await bus.connected.wait()
            published: list[Msg] = []
            for _ in range(POLLS):
                mark = obs.mark()
                assert await bridge.poll()
                published.append(await obs.wait_for(topic, live, after=mark))

    assert len({m.json["power"] for m in published}) == 1  # the house did not move
    stamps = [datetime.fromisoformat(m.json["ts"]) for m in published]
    assert stamps == sorted(stamps) and len(set(stamps)) == POLLS  # each is a new read
