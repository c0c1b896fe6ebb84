"""A release that never reaches the battery is sent again: the battery gets its settings back
when the bridge returns, not when the lease runs out. Real processes, real Mosquitto."""

from __future__ import annotations

from datetime import datetime

from support.home import Home, battery_held, battery_released
from support.mqtt import Msg, observer

STATE = "wattbus/zendure/state"
LONG_LEASE = 120  # s: far longer than the test, so only a repeated release can restore


def controller_release_restored(m: Msg) -> bool:
    e = m.json
    return (
        e.get("kind") == "applied"
        and str(e.get("id", "")).startswith("controller-")
        and e.get("command") == {"hold": False}
        and "restored" in e.get("reason", "")
    )


async def test_a_release_lost_while_the_bridge_is_down_is_repeated(home: Home) -> None:
    async with observer(home.broker) as obs:
        home.service("shelly")
        home.service("zendure")
        home.service("controller", WATTBUS_CONTROLLER_LEASE=str(LONG_LEASE))
        home.set_house_power(9000)
        await obs.wait_for(STATE, battery_held)
        home.procs["zendure"].kill()
        await obs.wait_for("wattbus/zendure/availability", lambda m: m.text == "offline")

        mark = obs.mark()
        last_held = [m for m in obs.messages[:mark] if m.topic == STATE and battery_held(m)][-1]
        home.set_house_power(600)  # the car stops while nobody listens on the battery's set
        await obs.wait_for("wattbus/zendure/set", lambda m: m.json.get("hold") is False, after=mark)
        home.service("zendure")  # resumes the hold from its record, expiry and all
        released = await obs.wait_for(STATE, battery_released, after=mark)

        assert home.props()["minSoc"] == 150
        assert home.props()["outputLimit"] == 800
        answers = [m for m in obs.messages[mark:] if m.topic == "wattbus/zendure/event"]
        assert not [m for m in answers if m.json.get("code") == "lease_expired"]
        assert any(controller_release_restored(m) for m in answers)
        expires = datetime.fromisoformat(last_held.json["hold_expires"])
        assert datetime.fromisoformat(released.json["ts"]) < expires  # before the lease ran out
