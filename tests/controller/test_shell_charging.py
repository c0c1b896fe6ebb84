"""Solar tracking through a real broker: the controller reads a tracked charger's state (a
client under the charger bridge's user, publishing as the bridge would), sends it currents on
its `set` topic, and takes strategies at run time from `controller/set`, as Home Assistant,
the CLI and mosquitto_pub send them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.broker import Broker
from support.mqtt import Msg
from wattbus.models import ChargerMode, ChargerState, MeterState

from .conftest import EVENTS, STATE, Rig, client, controller_rig

CHARGER = "nrgkick"
CHARGER_STATE = f"wattbus/{CHARGER}/state"
CHARGER_SET = f"wattbus/{CHARGER}/set"
SOLAR: dict[str, Any] = {"solar_chargers": CHARGER, "solar_start_delay": 0}


def charger_state(rig: Rig) -> str:
    """A car plugged in, not charging, on a paused NRGKICK that takes 6 to 16 A."""
    state = ChargerState(ts=rig.clock(), charging=False, plugged=True, power=0.0,
                         min_current=6.0, max_current=16.0, mode=ChargerMode.PAUSE)  # fmt: skip
    return state.model_dump_json()


def action(name: str) -> Callable[[Msg], bool]:
    return lambda m: m.json.get("chargers", {}).get(CHARGER, {}).get("action") == name


def applied(m: Msg) -> bool:
    return bool(m.json.get("kind") == "applied")


def rejected(m: Msg) -> bool:
    return bool(m.json.get("kind") == "rejected")


async def test_surplus_starts_the_charger_at_the_current_it_covers(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with (
        controller_rig(own_broker, tmp_path, **SOLAR) as rig,
        client(own_broker, CHARGER) as charger,
    ):
        mark = rig.obs.mark()
        await charger.publish(CHARGER_STATE, charger_state(rig), qos=1, retain=True)
        await rig.house(-5000, hold=False)  # 5 kW exported
        sent = await rig.obs.wait_for(CHARGER_SET, lambda m: "current" in m.json, after=mark)
        assert sent.json["mode"] == "normal"
        assert sent.json["current"] == 7.0  # 5000 W on 3 phases: 7.2 A, whole amps down
        state = await rig.obs.wait_for(STATE, action("charge"), after=mark)
        assert state.json["chargers"][CHARGER]["winner"] == "charging"
        assert state.json["strategies"] == {CHARGER: "tracked"}
        assert state.json["surplus"] is not None


async def test_a_strategy_set_at_run_time_is_sent_saved_and_reset(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with (
        controller_rig(own_broker, tmp_path, **SOLAR) as rig,
        client(own_broker, CHARGER) as charger,
        client(own_broker, "nodered") as ha,
    ):
        await charger.publish(CHARGER_STATE, charger_state(rig), qos=1, retain=True)
        await rig.house(300, hold=False)  # importing: tracked pauses
        await rig.obs.wait_for(CHARGER_SET, lambda m: m.json.get("mode") == "pause")

        mark = rig.obs.mark()
        await ha.publish("wattbus/controller/set/strategy", "fast", qos=1)  # mosquitto_pub -m
        await rig.obs.wait_for(EVENTS, applied, after=mark)
        fast = await rig.obs.wait_for(CHARGER_SET, lambda m: m.json.get("current") == 16.0,
                                      after=mark)  # fmt: skip
        assert fast.json["mode"] == "normal"
        state = await rig.obs.wait_for(
            STATE, lambda m: m.json.get("strategies") == {CHARGER: "fast"}, after=mark
        )
        assert state.json["overrides"][f"strategy {CHARGER}"] == {
            "configured": "tracked", "saved": "fast"
        }  # fmt: skip
        assert rig.controller.memory.strategies == {CHARGER: "fast"}

        mark = rig.obs.mark()
        await ha.publish("wattbus/controller/set", json.dumps({"reset": True}), qos=1)
        await rig.obs.wait_for(
            STATE, lambda m: m.json.get("strategies") == {CHARGER: "tracked"}, after=mark
        )
        # tracked again: a charge under way goes down to the least current, and stops only
        # after the stop delay of shortfall
        await rig.obs.wait_for(CHARGER_SET, lambda m: m.json.get("current") == 6.0, after=mark)
        assert rig.controller.memory.strategies is None


async def test_home_assistant_sets_a_chargers_strategy_through_its_select(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with (
        controller_rig(own_broker, tmp_path, **SOLAR) as rig,
        client(own_broker, CHARGER) as charger,
        client(own_broker, "nodered") as ha,
    ):
        config = await rig.obs.wait_for("homeassistant/device/controller/config")
        select = config.json["cmps"]["strategy_nrgkick"]
        assert select["p"] == "select"
        assert select["command_topic"] == "wattbus/controller/set"
        assert "off" in select["options"] and "min_pv" in select["options"]
        # what Home Assistant sends: the template rendered with the option picked
        rendered = select["command_template"].replace("{{ value }}", "min_pv")
        await charger.publish(CHARGER_STATE, charger_state(rig), qos=1, retain=True)
        await rig.house(300, hold=False)
        mark = rig.obs.mark()
        await ha.publish("wattbus/controller/set", rendered, qos=1)
        await rig.obs.wait_for(EVENTS, applied, after=mark)
        sent = await rig.obs.wait_for(CHARGER_SET, lambda m: "current" in m.json, after=mark)
        assert sent.json["current"] == 6.0  # min+pv without surplus: the least current
        state = await rig.obs.wait_for(STATE, lambda m: m.json.get("strategies"), after=mark)
        assert select["value_template"] == '{{ value_json.strategies["nrgkick"] | default(None) }}'
        assert state.json["strategies"]["nrgkick"] == "min_pv"


async def test_a_strategy_for_a_charger_not_tracked_is_refused_and_changes_nothing(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with (
        controller_rig(own_broker, tmp_path, **SOLAR) as rig,
        client(own_broker, "nodered") as ha,
    ):
        for payload in ({"strategies": {"garage": "fast"}}, {"strategy": "quick"},
                        {"strategies": {CHARGER: None}}, {"strategy": True}):  # fmt: skip
            mark = rig.obs.mark()
            await ha.publish("wattbus/controller/set", json.dumps(payload), qos=1)
            answer = await rig.obs.wait_for(EVENTS, rejected, after=mark)
            assert answer.json["reason"]
        assert rig.controller.memory.strategies is None
    async with (
        controller_rig(own_broker, tmp_path / "untracked") as rig,
        client(own_broker, "nodered") as ha,
    ):
        mark = rig.obs.mark()
        await ha.publish("wattbus/controller/set/strategy", "fast", qos=1)
        answer = await rig.obs.wait_for(EVENTS, rejected, after=mark)
        assert "no charger is tracked" in answer.json["reason"]


async def test_an_offline_charger_is_sent_nothing(own_broker: Broker, tmp_path: Path) -> None:
    async with (
        controller_rig(own_broker, tmp_path, **SOLAR) as rig,
        client(own_broker, CHARGER) as charger,
    ):
        await charger.publish(CHARGER_STATE, charger_state(rig), qos=1, retain=True)
        await charger.publish(f"wattbus/{CHARGER}/availability", "offline", qos=1, retain=True)
        await rig.obs.wait_for(STATE, action("leave"))
        mark = rig.obs.mark()
        await rig.house(-5000, hold=False)  # surplus enough to start, were it online
        await rig.obs.wait_for(STATE, action("leave"), after=mark)
        assert not [m for m in rig.obs.messages[mark:] if m.topic == CHARGER_SET]


async def test_a_cloud_meters_five_minute_block_never_sets_a_current(
    own_broker: Broker, tmp_path: Path
) -> None:
    """A Smappee's block says what the sun gave minutes ago: the EV guard may use it, the
    tracking may not. The same export from a meter of now starts the car."""
    async with (
        controller_rig(own_broker, tmp_path, **SOLAR) as rig,
        client(own_broker, CHARGER) as charger,
    ):
        await charger.publish(CHARGER_STATE, charger_state(rig), qos=1, retain=True)
        block = MeterState(ts=rig.clock(), power=-5000.0, span=300.0)  # 5 kW exported
        mark = rig.obs.mark()
        await rig.meter.publish("wattbus/grid-meter/state", block.model_dump_json(), retain=True)
        state = await rig.obs.wait_for(STATE, lambda m: m.json.get("house_power") is not None,
                                       after=mark)  # fmt: skip
        assert state.json["chargers"][CHARGER]["action"] == "pause"
        assert state.json.get("surplus") is None
        mark = rig.obs.mark()
        await rig.house(-5000, hold=False)  # the same export, read now
        await rig.obs.wait_for(CHARGER_SET, lambda m: m.json.get("current") == 7.0, after=mark)
