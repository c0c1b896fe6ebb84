"""Solar tracking end to end with the real SmartEVSE bridge: the controller on a real broker
tells the bridge what to do, the bridge writes the charger's `Set/` topics, and the fake
SmartEVSE takes them as its firmware does, so the fields the controller sends are the ones
the bridge takes and the charger holds. The bridge keeps feeding the charger the grid meter
all along, as it does in every home: the controller's Normal mode ignores that feed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.broker import Broker, password
from support.clock import FakeClock as BridgeClock
from support.mqtt import WAIT, Msg, bus_settings, running
from wattbus.bus import Bus
from wattbus_simulator.fake_smartevse import FakeSmartEvse, SmartEvse
from wattbus_smartevse.service import SmartEVSEBridge
from wattbus_smartevse.settings import SmartEVSESettings

from .conftest import STATE, T0, Rig, controller_rig

PREFIX = "SmartEVSE/garage"  # the charger's own login may write only under this (mosquitto/acl)
EVENT = "wattbus/smartevse/event"
SET = "wattbus/smartevse/set"
MAINS = f"{PREFIX}/Set/MainsMeter"
END = f"{PREFIX}/EVTotalEnergyCharged"  # the last topic of each of the fake's publications
SOLAR: dict[str, Any] = {"solar_chargers": "smartevse", "solar_start_delay": 0,
                         "solar_stop_delay": 0, "solar_import_stop_delay": 0}  # fmt: skip


@dataclass
class Garage:
    charger: FakeSmartEvse
    clock: BridgeClock  # the bridge's: it waits on it, so it moves with the controller's

    @property
    def evse(self) -> SmartEvse:
        return self.charger.evse


@contextlib.asynccontextmanager
async def smartevse(broker: Broker, state_dir: Path, evse: SmartEvse) -> AsyncIterator[Garage]:
    """The fake charger under its own login and the bridge under `smartevse`, feeding it from
    `grid-meter` as configured by default."""
    charger = FakeSmartEvse(broker.port, prefix=PREFIX, username="smartevse-garage",
                            password=password("smartevse-garage"), evse=evse)  # fmt: skip
    clock = BridgeClock(T0)
    settings = SmartEVSESettings.only(prefix=PREFIX, state_dir=state_dir)
    bus = Bus(bus_settings(broker, "smartevse"), settings.id)
    bridge = SmartEVSEBridge(bus, settings, clock)  # its routes, before the bus subscribes
    await charger.start()
    try:
        # as the service starts them: the bridge's `offline` is the bus's before it connects,
        # and the charger's retained `online` then comes after it
        async with running(bridge.run()), running(bus.run()):
            await asyncio.wait_for(bus.connected.wait(), WAIT)
            yield Garage(charger, clock)
    finally:
        await charger.stop()


def advance(rig: Rig, garage: Garage, seconds: float) -> None:
    rig.clock.advance(seconds)
    garage.clock.advance(seconds)


def applied(command: dict[str, object]) -> Callable[[Msg], bool]:
    """The bridge's answer to the controller: this command applied (the charger shows it)."""
    return lambda m: m.json.get("kind") == "applied" and m.json.get("command") == command


def tracking(m: Msg) -> bool:
    return "smartevse" in m.json.get("chargers", {})


def charger_seen(m: Msg) -> bool:
    """The controller's state once it has the charger's: it decides for it."""
    return m.topic == STATE and m.json["chargers"]["smartevse"]["action"] != "leave"


async def taken(rig: Rig, sent: Msg) -> None:
    """Returns once the charger has handled `sent`: it publishes its state after each."""
    await rig.obs.wait_for(END, after=rig.obs.messages.index(sent))


async def test_the_controller_drives_a_real_smartevse_bridge_through_its_override(
    own_broker: Broker, tmp_path: Path
) -> None:
    """A car on a charger left on its own Solar mode, the meter feed not yet running: the
    controller's order takes it to Normal with the override, and from then on the feed the
    bridge sends the charger changes nothing of the current the controller chose."""
    evse = SmartEvse(mode="Solar", plugged=True, min_current=6, max_current=16)
    async with (
        controller_rig(own_broker, tmp_path, **SOLAR) as rig,
        smartevse(own_broker, tmp_path / "smartevse", evse) as garage,
    ):
        await rig.obs.wait_for(STATE, tracking)
        mark = rig.obs.mark()
        await rig.house(-5000, hold=False)  # 5 kW exported, the car waiting
        start = {"mode": "normal", "current_override": 7.0}
        await rig.obs.wait_for(EVENT, applied(start), after=mark)
        # as the firmware holds them: its mode, the override in dA, and the car charging at it
        assert (garage.evse.mode, garage.evse.access, garage.evse.override) == (
            "Normal", "Allow", 70
        )  # fmt: skip
        assert (garage.evse.charge_current, garage.evse.state_id) == (70, "C")

        # the meter's next readings are fed, and the firmware in Normal mode does not follow
        # them: still the controller's 7 A, where Solar mode would chase the 5 kW exported
        for _ in range(2):
            mark = rig.obs.mark()
            advance(rig, garage, 1)
            await rig.house(-5000, hold=False)
            await taken(rig, await rig.obs.wait_for(MAINS, after=mark))
            assert garage.evse.received[-1].topic == "MainsMeter"
            assert garage.evse.received[-1].applied
            assert (garage.evse.mode, garage.evse.charge_current) == ("Normal", 70)

        mark = rig.obs.mark()
        await rig.house(2500, hold=False)  # a cloud: the car's 4.8 kW now half from the grid
        await rig.obs.wait_for(EVENT, applied({"mode": "off"}), after=mark)
        assert garage.evse.access == "Deny"
        state = await rig.obs.wait_for(
            STATE, lambda m: m.json["chargers"]["smartevse"]["action"] == "pause", after=mark
        )
        assert state.json["chargers"]["smartevse"]["strategy"] == "tracked"

        mark = rig.obs.mark()
        await rig.obs.publish("wattbus/controller/set", {"strategy": "fast"})
        await rig.obs.wait_for(
            EVENT, applied({"mode": "normal", "current_override": 16.0}), after=mark
        )
        assert (garage.evse.mode, garage.evse.access, garage.evse.override) == (
            "Normal", "Allow", 160
        )  # fmt: skip
        assert garage.evse.charge_current == 160


async def test_a_smartevse_on_auto_phases_is_given_a_current_for_its_three(
    own_broker: Broker, tmp_path: Path
) -> None:
    """wattbus cannot switch a SmartEVSE's phases: `auto` picked one phase for a small surplus,
    and the current worked out for it went to a charger that charges on three (2.5 kW
    exported became 10 A, 6.9 kW). So the SmartEVSE keeps its three: 2.5 kW is too little to
    start (6 A on three phases is 4.1 kW), and 5 kW starts it at the 7 A three phases make."""
    evse = SmartEvse(mode="Normal", access="Deny", plugged=True, min_current=6, max_current=16)
    async with (
        controller_rig(own_broker, tmp_path, **SOLAR, solar_phases="auto") as rig,
        smartevse(own_broker, tmp_path / "smartevse", evse) as garage,
    ):
        await rig.obs.wait_for(STATE, tracking)
        mark = rig.obs.mark()
        await rig.house(-2500, hold=False)
        state = await rig.obs.wait_for(STATE, charger_seen, after=mark)
        assert state.json["chargers"]["smartevse"]["action"] == "pause"

        mark = rig.obs.mark()
        advance(rig, garage, 1)
        await rig.house(-5000, hold=False)
        await rig.obs.wait_for(EVENT, applied({"mode": "normal", "current_override": 7.0}),
                               after=mark)  # fmt: skip
        assert (garage.evse.access, garage.evse.override, garage.evse.phases) == ("Allow", 70, 3)
        sent = [m.json.get("current_override") for m in rig.obs.messages if m.topic == SET]
        assert set(sent) <= {None, 7.0}  # never a current for one phase
