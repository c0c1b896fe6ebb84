"""Plugs on surplus through a real broker: the plug is a client under the kasa bridge's user
publishing its state as the bridge would; the controller switches it on its `set` topic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support.broker import Broker
from support.mqtt import Msg
from wattbus.models import PlugState

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
