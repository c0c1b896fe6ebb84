"""The controller's shell in the test process, on a Mosquitto of the test's own with the ACL,
driven by a fake clock: the meter and the battery are MQTT clients under their own users that
publish states, as the bridges do."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
from support.broker import Broker, password
from support.mqtt import WAIT, Observer, bus_settings, observer, running
from wattbus.bus import Bus
from wattbus.models import BatteryState, MeterState
from wattbus.topics import CONTROLLER_ID
from wattbus_controller.service import Controller
from wattbus_controller.settings import ControllerSettings

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
# s (real), the least the setting allows: evaluations come quickly, time itself moves only
# with the fake clock
TICK = 0.1
STATE = "wattbus/controller/state"
EVENTS = "wattbus/controller/event"
BATTERY_SET = "wattbus/zendure/set"
READINGS = itertools.count(1)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Rig:
    controller: Controller
    clock: FakeClock
    obs: Observer
    meter: aiomqtt.Client
    battery: aiomqtt.Client

    # one count for every rig: a rig started on a broker that still holds an earlier rig's
    # retained states must not expect the house power those already gave
    readings: Iterator[int] = field(default_factory=lambda: READINGS)

    async def house(self, watts: float, *, hold: bool) -> None:
        """Meter and battery states, and wait until the controller has both. The battery
        delivers a few W to the home, different each time, so the house power the controller
        publishes shows that this battery state is in."""
        home = float(next(self.readings))
        mark = self.obs.mark()
        battery = BatteryState(ts=self.clock(), soc=50, power=-home, output_home_power=home,
                               hold=hold)  # fmt: skip
        await self.battery.publish("wattbus/zendure/state", battery.model_dump_json(), retain=True)
        meter = MeterState(ts=self.clock(), power=watts)
        await self.meter.publish("wattbus/grid-meter/state", meter.model_dump_json(), retain=True)
        await self.obs.wait_for(
            STATE, lambda m: m.json.get("house_power") == watts + home, after=mark
        )


def client(broker: Broker, user: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", broker.port, username=user, password=password(user))


@contextlib.asynccontextmanager
async def controller_rig(
    broker: Broker,
    state_dir: Path,
    *,
    heartbeat: float = 3600.0,
    invite_retries: Sequence[float] = (),
    **settings: Any,
) -> AsyncIterator[Rig]:
    """A running controller (confirm and release 0 unless given); the heartbeat is off unless
    a test asks for it, so every state published is a change. An invite that fails is not
    tried again unless a test asks for it."""
    clock = FakeClock()
    values: dict[str, Any] = {"confirm": 0, "release": 0, "tick": TICK, "state_dir": state_dir}
    bus = Bus(bus_settings(broker, "controller", heartbeat=heartbeat), CONTROLLER_ID)
    controller = Controller(
        bus, ControllerSettings.only(**values | settings), clock, invite_retries
    )
    async with (
        observer(broker) as obs,
        client(broker, "grid-meter") as meter,
        client(broker, "zendure") as battery,
        running(bus.run()),
        running(controller.run()),
    ):
        await asyncio.wait_for(bus.connected.wait(), WAIT)
        yield Rig(controller, clock, obs, meter, battery)
