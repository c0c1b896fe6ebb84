"""The kasa bridge on the test's broker around a plug client the test makes (a legacy Kasa
or a Tapo), and the two steps every bridge test takes: a poll to its state, a command to its
answer. Each poll is one `bridge.poll()`, so the test decides when the plug is read."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from support.broker import Broker
from support.mqtt import Msg, Observer, bus_settings, observer, running
from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.models import PlugCommand, PlugState
from wattbus_kasa.plug import Plug
from wattbus_kasa.service import make_bridge
from wattbus_kasa.settings import KasaSettings

STATE = "wattbus/kasa/state"
EVENT = "wattbus/kasa/event"
AVAILABILITY = "wattbus/kasa/availability"
SET = "wattbus/kasa/set"
Rig = tuple[Bridge[PlugState, PlugCommand], Observer]


@contextlib.asynccontextmanager
async def plug_bridge(
    broker: Broker, own: KasaSettings, plug: Plug, *, discovery: bool = False
) -> AsyncIterator[Rig]:
    bus = Bus(bus_settings(broker, "kasa", discovery=discovery), own.id)
    try:
        bridge = make_bridge(own, bus, plug)
        async with observer(broker) as obs, running(bus.run()):
            await bus.connected.wait()
            yield bridge, obs
    finally:
        await plug.close()


async def state_after_poll(rig: Rig) -> dict[str, Any]:
    bridge, obs = rig
    mark = obs.mark()
    assert await bridge.poll()
    # not a retained state of an earlier test on this broker, delivered late under load
    result: dict[str, Any] = (await obs.wait_for(STATE, lambda m: not m.retain, after=mark)).json
    return result


async def answer(rig: Rig, payload: str, id: str = "c1", topic: str = SET) -> Msg:
    obs = rig[1]
    mark = obs.mark()
    await obs.publish(topic, payload)
    return await obs.wait_for(EVENT, lambda m: m.json.get("id") in (id, None), after=mark)
