"""Plugs on surplus through a real broker: the plug is a client under the kasa bridge's user
publishing its state as the bridge would; the controller switches it on its `set` topic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.broker import Broker
from support.mqtt import Msg
from wattbus.models import ChargerState, PlugState

from .conftest import STATE, Rig, client, controller_rig

PLUG = "kasa"
PLUG_STATE = f"wattbus/{PLUG}/state"
PLUG_SET = f"wattbus/{PLUG}/set"


def plug_state(rig: Rig, on: bool) -> str:
    return PlugState(ts=rig.clock(), on=on, power=2000.0 if on else 0.0).model_dump_json()


def switched(on: bool) -> Callable[[Msg], bool]:
    return lambda m: m.json.get("on") is on


def decided(on: bool | None) -> Callable[[Msg], bool]:
    """The controller's state says what it wants of the plug (None: left alone)."""
    return lambda m: PLUG in m.json.get("plugs", {}) and m.json["plugs"][PLUG].get("on") is on


async def test_a_plug_goes_on_at_surplus_and_off_when_it_would_import(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with (
        controller_rig(own_broker, tmp_path, plugs=PLUG, plug_min_on=0, plug_min_off=0) as rig,
        client(own_broker, PLUG) as plug,
    ):
        await plug.publish(PLUG_STATE, plug_state(rig, on=False), qos=1, retain=True)
        mark = rig.obs.mark()
        await rig.house(-3000, hold=False)
        await rig.obs.wait_for(PLUG_SET, switched(True), after=mark)
        state = await rig.obs.wait_for(STATE, decided(True), after=mark)
        assert state.json["plugs"][PLUG]["reason"] == "surplus 3000 W >= 2000 W"

        await plug.publish(PLUG_STATE, plug_state(rig, on=True), qos=1, retain=True)
        mark = rig.obs.mark()
        await rig.house(800, hold=False)  # importing 800 W with the rod on
        await rig.obs.wait_for(PLUG_SET, switched(False), after=mark)


async def test_an_offline_plug_is_left_alone(own_broker: Broker, tmp_path: Path) -> None:
    async with (
        controller_rig(own_broker, tmp_path, plugs=PLUG) as rig,
        client(own_broker, PLUG) as plug,
    ):
        await plug.publish(PLUG_STATE, plug_state(rig, on=False), qos=1, retain=True)
        await plug.publish(f"wattbus/{PLUG}/availability", "offline", qos=1, retain=True)
        await rig.obs.wait_for(STATE, decided(None))
        mark = rig.obs.mark()
        await rig.house(-3000, hold=False)
        await rig.obs.wait_for(STATE, decided(None), after=mark)
        assert not [m for m in rig.obs.messages[mark:] if m.topic == PLUG_SET]


async def test_a_plug_gives_way_to_a_car_that_its_draw_would_start(
    own_broker: Broker, tmp_path: Path
) -> None:
    """The rod takes 2 kW and 2.5 kW are exported: without the rod, 4.5 kW would start the
    car on three phases. The car comes first: it starts, and the rod goes off for it."""
    settings: dict[str, Any] = {"plugs": PLUG, "plug_min_on": 0, "plug_min_off": 0,
                "solar_chargers": "nrgkick", "solar_start_delay": 0}  # fmt: skip
    async with (
        controller_rig(own_broker, tmp_path, **settings) as rig,
        client(own_broker, PLUG) as plug,
        client(own_broker, "nrgkick") as charger,
    ):
        car = ChargerState(ts=rig.clock(), charging=False, plugged=True, power=0.0,
                           min_current=6.0, max_current=16.0)  # fmt: skip
        await charger.publish("wattbus/nrgkick/state", car.model_dump_json(), qos=1, retain=True)
        await plug.publish(PLUG_STATE, plug_state(rig, on=True), qos=1, retain=True)
        mark = rig.obs.mark()
        await rig.house(-2500, hold=False)
        started = await rig.obs.wait_for(
            "wattbus/nrgkick/set", lambda m: "current" in m.json, after=mark
        )
        assert started.json["current"] == 6.0  # 4500 W on 3 phases
        await rig.obs.wait_for(PLUG_SET, switched(False), after=mark)
