"""The SmartEVSE bridge's shell in the test process, on a Mosquitto of the test's own with the
ACL: the fake charger under its own user, the bridge under `smartevse`, the meter and the
battery as plain clients under their bridges' users publishing states. Time is a fake clock
the tests move; the charger's 1 s task is its `tick()`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from support.broker import Broker, password
from support.clock import FakeClock
from support.mqtt import WAIT, Msg, Observer, bus_settings, observer, running
from wattbus.bus import Bus
from wattbus.models import BatteryState, MeterState
from wattbus_simulator.fake_smartevse import FakeSmartEvse, SmartEvse
from wattbus_smartevse.service import SmartEVSEBridge
from wattbus_smartevse.settings import SmartEVSESettings

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PREFIX = "SmartEVSE/garage"
CHARGER_USER = "smartevse-garage"  # mosquitto/acl
BRIDGE_USER = "smartevse"  # the bridge's id is its user
MAINS = f"{PREFIX}/Set/MainsMeter"
BATTERY = f"{PREFIX}/Set/HomeBatteryCurrent"
FEED = "wattbus/smartevse/feed"
STATE = "wattbus/smartevse/state"
AVAILABILITY = "wattbus/smartevse/availability"
EVENTS = "wattbus/smartevse/event"
SET = "wattbus/smartevse/set"
END = f"{PREFIX}/EVTotalEnergyCharged"  # the last topic of each of the fake's publications


def client(broker: Broker, user: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", broker.port, username=user, password=password(user))


@dataclass
class Rig:
    bridge: SmartEVSEBridge
    charger: FakeSmartEvse
    clock: FakeClock
    obs: Observer
    meter: aiomqtt.Client
    battery: aiomqtt.Client

    def at(self, seconds: float = 0.0) -> datetime:
        return self.clock.now() + timedelta(seconds=seconds)

    async def reading(self, *, age: float = 0.0, **values: Any) -> MeterState:
        """A meter state stamped `age` s before now (3 A and 2 A imported, 5 A exported
        unless `values` say otherwise), published retained as a meter bridge does."""
        base: dict[str, Any] = dict(
            power=690.0 + 460.0 - 1150.0, current_l1=3.0, current_l2=2.0, current_l3=-5.0,
            power_l1=690.0, power_l2=460.0, power_l3=-1150.0,
        )  # fmt: skip
        state = MeterState(ts=self.at(-age), **base | values)
        await self.meter.publish(
            "wattbus/grid-meter/state", state.model_dump_json(), qos=1, retain=True
        )
        return state

    async def meter_says(self, word: str) -> None:
        await self.meter.publish("wattbus/grid-meter/availability", word, qos=1, retain=True)

    async def battery_state(self, power: float, **values: Any) -> BatteryState:
        state = BatteryState(ts=self.at(), soc=values.pop("soc", 50.0), power=power, **values)
        await self.battery.publish(
            "wattbus/zendure/state", state.model_dump_json(), qos=1, retain=True
        )
        return state

    async def feeding(self) -> Msg:
        """Two readings a second apart: the second is fed, and taken by the charger."""
        mark = self.obs.mark()
        await self.meter_says("online")
        await self.reading()
        self.clock.advance(1)
        await self.reading()
        fed = await self.obs.wait_for(MAINS, after=mark)
        await self.taken(fed)
        await self.barrier()  # and the bridge has read what the charger said after it
        return fed

    async def taken(self, sent: Msg) -> None:
        """Returns once the charger has handled `sent`: it publishes its state after each."""
        await self.obs.wait_for(END, after=self.obs.messages.index(sent))

    async def barrier(self) -> None:
        """Returns once the bridge has handled everything published before: it answers a
        command it cannot read, after every message that came before that command. (A
        message the bridge sends comes to the observer before that answer.)"""
        mark = self.obs.mark()
        await self.obs.publish(SET, b'{"barrier": true}')
        await self.obs.wait_for(EVENTS, lambda m: m.json.get("kind") == "rejected", after=mark)

    def sent(self, topic: str, since: int = 0) -> list[str]:
        return [m.text for m in self.obs.messages[since:] if m.topic == topic]

    async def ticks(self, n: int) -> None:
        for _ in range(n):
            await self.charger.tick()


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(own_broker: Broker, tmp_path: Path) -> AsyncIterator[MakeRig]:
    """`await make_rig(evse=SmartEvse(...), **settings)`: a running bridge and charger. The
    heartbeat is off unless asked for, so every state published is a change."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(
            *,
            evse: SmartEvse | None = None,
            heartbeat: float = 3600.0,
            run: bool = True,
            **settings: Any,
        ) -> Rig:
            obs = await stack.enter_async_context(observer(own_broker))
            charger = FakeSmartEvse(
                own_broker.port,
                prefix=PREFIX,
                username=CHARGER_USER,
                password=password(CHARGER_USER),
                evse=evse or SmartEvse(mode="Smart"),
            )
            await charger.start()
            stack.push_async_callback(charger.stop)
            await obs.wait_for(END)
            meter = await stack.enter_async_context(client(own_broker, "grid-meter"))
            battery = await stack.enter_async_context(client(own_broker, "zendure"))
            clock = FakeClock(T0)
            values: dict[str, Any] = {"prefix": PREFIX, "state_dir": tmp_path / "state"}
            bus = Bus(bus_settings(own_broker, BRIDGE_USER, heartbeat=heartbeat), BRIDGE_USER)
            bridge = SmartEVSEBridge(bus, SmartEVSESettings.only(**values | settings), clock)
            await stack.enter_async_context(running(bus.run()))
            await asyncio.wait_for(bus.connected.wait(), WAIT)
            if run:  # else the test runs `bridge.run()` itself, to see how it ends
                await stack.enter_async_context(running(bridge.run()))
            return Rig(bridge, charger, clock, obs, meter, battery)

        yield make
