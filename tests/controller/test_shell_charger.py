"""The shell reads the configured charger's state and availability from a real broker: the
charger, a client under its own user, publishes as its bridge would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support.broker import Broker
from support.mqtt import Msg
from wattbus.models import ChargerState

from .conftest import BATTERY_SET, EVENTS, STATE, client, controller_rig

CHARGER = "smartevse"
CHARGER_STATE = f"wattbus/{CHARGER}/state"
CHARGER_AVAILABILITY = f"wattbus/{CHARGER}/availability"


def hold(m: Msg) -> bool:
    return m.json.get("hold") is True


def release(m: Msg) -> bool:
    return m.json.get("hold") is False


def signal(name: str) -> Callable[[Msg], bool]:
    return lambda m: m.json.get("signal") == name


async def test_a_charging_charger_holds_the_battery_and_offline_falls_back(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with (
        controller_rig(own_broker, tmp_path, charger=CHARGER, confirm=3) as rig,
        client(own_broker, CHARGER) as charger,
    ):
        await rig.house(600, hold=False)  # far below the threshold
        mark = rig.obs.mark()
        state = ChargerState(ts=rig.clock(), charging=True, plugged=True, power=7400)
        await charger.publish(CHARGER_STATE, state.model_dump_json(), qos=1, retain=True)
        await rig.obs.wait_for(BATTERY_SET, hold, after=mark)
        published = await rig.obs.wait_for(STATE, signal("charger"), after=mark)
        assert published.json["ev_charging"] is True
        assert published.json["charger"] == CHARGER
        assert published.json["reason"] == "charger smartevse charging"

        mark = rig.obs.mark()
        await charger.publish(CHARGER_AVAILABILITY, "offline", qos=1, retain=True)
        fallback = await rig.obs.wait_for(STATE, signal("threshold"), after=mark)
        assert fallback.json["reason"].startswith("charger smartevse offline; house ")
        await rig.obs.wait_for(BATTERY_SET, release, after=mark)  # the house is quiet


async def test_a_bad_availability_is_reported_and_changes_nothing(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with (
        controller_rig(own_broker, tmp_path, charger=CHARGER) as rig,
        client(own_broker, CHARGER) as charger,
    ):
        state = ChargerState(ts=rig.clock(), charging=True)
        await charger.publish(CHARGER_STATE, state.model_dump_json(), qos=1, retain=True)
        await rig.obs.wait_for(STATE, signal("charger"))
        mark = rig.obs.mark()
        await charger.publish(CHARGER_AVAILABILITY, "gone", qos=1, retain=True)
        error = await rig.obs.wait_for(EVENTS, lambda m: m.json.get("kind") == "error", after=mark)
        assert error.json["topic"] == CHARGER_AVAILABILITY
        assert "'gone'" in error.json["reason"]
        await rig.house(600, hold=True)  # an evaluation after the bad payload
        last = [m for m in rig.obs.messages if m.topic == STATE][-1]
        assert last.json["signal"] == "charger"
