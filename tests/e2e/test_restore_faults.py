"""A hold's restore when the battery is not the easy case: an owner who keeps the unit at
smartMode 0, and firmware that refuses (HTTP 400) a value it is asked to restore. Real
processes, real Mosquitto with the ACL, the fake SolarFlow over HTTP."""

from __future__ import annotations

import asyncio
import json

from support.home import Home, battery_released
from support.mqtt import Msg, observer

STATE = "wattbus/zendure/state"
EVENT = "wattbus/zendure/event"
AVAILABILITY = "wattbus/zendure/availability"


def held(m: Msg) -> bool:
    return bool(m.json.get("hold"))


def offline(messages: list[Msg]) -> list[Msg]:
    return [m for m in messages if m.topic == AVAILABILITY and m.text != "online"]


async def test_an_ev_session_gives_back_every_writable_property_with_one_flash_write(
    home: Home,
) -> None:
    home.props()["smartMode"] = 0  # the owner stores settings in flash
    before = home.zendure.state.writable()
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        await obs.wait_for(STATE, lambda m: m.json["min_soc"] == 15.0)
        home.set_house_power(9000)
        await obs.wait_for(STATE, lambda m: m.json["hold"] and m.json["min_soc"] == 100.0)
        assert home.props()["smartMode"] == 1  # the hold itself is in RAM
        home.set_house_power(600)
        await obs.wait_for(STATE, battery_released, after=obs.mark())
    assert home.zendure.state.writable() == before
    assert home.zendure.state.flash_writes <= 1


async def test_a_restore_the_device_refuses_ends_unheld_with_an_error(home: Home) -> None:
    home.zendure.state.min_soc_above_50 = "refused"  # 400 to minSoc 1000: held by outputLimit
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        home.set_house_power(9000)
        first = await obs.wait_for(
            STATE, lambda m: m.json["hold"] and m.json["output_limit"] == 0.0
        )
        # from its first state on: a bridge says `offline` once at start, before it has read
        # the device, and that one may reach the bus before or after the broker connection
        watching = obs.messages.index(first)

        # a deferred value the device would refuse is refused now, and nothing changes
        mark = obs.mark()
        await obs.publish("wattbus/zendure/set", {"min_soc": 60, "id": "m1"})
        answer = await obs.wait_for(EVENT, lambda m: m.json.get("id") == "m1", after=mark)
        assert answer.json["kind"] == "rejected"
        assert "0-50 %" in answer.json["reason"]

        # the same 60 % as an older bridge deferred it unchecked, found by this one at start
        stopping = obs.mark()
        home.procs["zendure"].stop()
        record_file = home.workdir / "zendure-state" / "zendure.hold.json"
        record = json.loads(await asyncio.to_thread(record_file.read_text))
        assert record["saved"]["min_soc"] == 15.0
        record["saved"]["min_soc"] = 60.0
        await asyncio.to_thread(record_file.write_text, json.dumps(record))
        mark = obs.mark()
        home.service("zendure")
        resumed = obs.messages.index(await obs.wait_for(STATE, held, after=mark))

        home.set_house_power(600)
        failed = await obs.wait_for(
            EVENT, lambda m: m.json.get("code") == "restore_failed", after=mark
        )
        released = await obs.wait_for(STATE, lambda m: not m.json["hold"], after=mark)
    # a unit that refuses is reachable: through every refused attempt the bridge never said
    # otherwise, but for its own restart
    assert offline(obs.messages[watching:stopping]) == []
    assert offline(obs.messages[resumed:]) == []
    assert failed.json["kind"] == "error"
    assert failed.json["data"] == {
        "refused": {"min_soc": 60.0},
        "written": {"min_soc": 10.0},
        "left": [],
    }
    assert released.json["output_limit"] == 800.0
    assert released.json["min_soc"] == 10.0
    assert (home.props()["outputLimit"], home.props()["minSoc"]) == (800, 100)
    assert not await asyncio.to_thread(record_file.exists)
