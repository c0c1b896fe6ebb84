"""The NRGKICK bridge on the real Mosquitto with the ACL, against the fake charger over HTTP,
Gen2 and Connect. Each poll is one `bridge.poll()`, so the test decides when it is read."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from support.broker import Broker
from support.mqtt import Msg, Observer, bus_settings, observer, running
from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.models import ChargerState
from wattbus_nrgkick.commands import NrgkickCommand
from wattbus_nrgkick.service import make_bridge, open_charger
from wattbus_nrgkick.settings import NrgkickSettings
from wattbus_simulator.fake_nrgkick import SOLAR_BLOCK, FakeNrgkick

STATE = "wattbus/nrgkick/state"
EVENT = "wattbus/nrgkick/event"
AVAILABILITY = "wattbus/nrgkick/availability"
SET = "wattbus/nrgkick/set"
Rig = tuple[Bridge[ChargerState, NrgkickCommand], Observer]


@contextlib.asynccontextmanager
async def nrgkick_bridge(
    broker: Broker, fake: FakeNrgkick, *, discovery: bool = False, **settings: Any
) -> AsyncIterator[Rig]:
    own = NrgkickSettings.only(host=f"127.0.0.1:{fake.port}", **settings)
    bus = Bus(bus_settings(broker, "nrgkick", discovery=discovery), own.id)
    async with open_charger(own) as client:
        bridge = make_bridge(own, bus, client)
        async with observer(broker) as obs, running(bus.run()):
            await bus.connected.wait()
            yield bridge, obs


def connect_settings(fake: FakeNrgkick, password: str | None = None) -> dict[str, Any]:
    return {"api": "connect", "mac": fake.state.mac, "password": password}


async def state_after_poll(rig: Rig) -> dict[str, Any]:
    bridge, obs = rig
    mark = obs.mark()
    assert await bridge.poll()
    # not a retained state of an earlier test on this broker, delivered late under load
    result: dict[str, Any] = (await obs.wait_for(STATE, lambda m: not m.retain, after=mark)).json
    return result


async def answer(rig: Rig, body: dict[str, object], id: str = "c1") -> Msg:
    obs = rig[1]
    mark = obs.mark()
    await obs.publish(SET, {**body, "id": id})
    return await obs.wait_for(EVENT, lambda m: m.json.get("id") in (id, None), after=mark)


async def test_a_gen2_charging_on_three_phases(broker: Broker, fake: FakeNrgkick) -> None:
    fake.state.plugged = True
    async with nrgkick_bridge(broker, fake) as rig:
        s = await state_after_poll(rig)
        await rig[1].wait_for(AVAILABILITY, lambda m: m.text == "online")
    assert (s["charging"], s["plugged"], s["phases"], s["power"]) == (True, True, 3, 11040.0)
    assert (s["current"], s["min_current"], s["max_current"]) == (16.0, 6.0, 16.0)
    assert (s["mode"], s["status"], s["status_code"]) == ("normal", "Charging", "3")


async def test_current_is_set_and_read_back(broker: Broker, fake: FakeNrgkick) -> None:
    fake.state.plugged = True
    async with nrgkick_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        event = await answer(rig, {"current": 10})
        s = await state_after_poll(rig)
    assert event.json["kind"] == "applied", event.json
    assert fake.state.current_set == 10.0
    assert s["power"] == 6900.0


async def test_a_current_outside_the_range_is_rejected_and_nothing_sent(
    broker: Broker, fake: FakeNrgkick
) -> None:
    async with nrgkick_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        low = await answer(rig, {"current": 5}, "low")
        high = await answer(rig, {"current": 20}, "high")
        typed = await answer(rig, {"current": True}, "typed")
    for event in (low, high, typed):
        assert event.json["kind"] == "rejected", event.json
    assert "6 to 16 A" in low.json["reason"] and "6 to 16 A" in high.json["reason"]
    assert fake.faults.writes == []
    assert fake.state.current_set == 16.0


async def test_pause_and_resume(broker: Broker, fake: FakeNrgkick) -> None:
    fake.state.plugged = True
    async with nrgkick_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        paused = await answer(rig, {"mode": "pause"}, "p")
        stopped = await state_after_poll(rig)
        resumed = await answer(rig, {"mode": "normal"}, "r")
        charging = await state_after_poll(rig)
    assert (paused.json["kind"], resumed.json["kind"]) == ("applied", "applied")
    assert (stopped["mode"], stopped["charging"], stopped["plugged"]) == ("pause", False, True)
    assert (charging["mode"], charging["charging"]) == ("normal", True)


async def test_phases_switch_and_the_chargers_refusal_is_its_own_words(
    broker: Broker, fake: FakeNrgkick
) -> None:
    fake.state.plugged = True
    async with nrgkick_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        one = await answer(rig, {"phases": 1}, "one")
        s = await state_after_poll(rig)
        fake.state.solar_charging = True
        blocked = await answer(rig, {"phases": 3, "current": 8}, "blocked")
    assert one.json["kind"] == "applied", one.json
    assert (s["phases"], s["power"], fake.state.phase_count) == (1, 3680.0, 1)
    assert blocked.json["kind"] == "rejected"
    assert SOLAR_BLOCK in blocked.json["reason"]
    assert (fake.state.phase_count, fake.state.current_set) == (1, 16.0)  # nothing changed


async def test_a_write_the_gen2_answers_but_does_not_keep_is_an_error(
    broker: Broker, fake: FakeNrgkick
) -> None:
    async with nrgkick_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        fake.faults.lose_writes = True
        event = await answer(rig, {"current": 10})
    assert event.json["kind"] == "error"
    assert "did not take current 10 A (it shows 16.0)" in event.json["reason"]


async def test_basic_auth(broker: Broker, fake: FakeNrgkick) -> None:
    fake.state.username, fake.state.password = "admin", "secret"
    async with nrgkick_bridge(broker, fake, username="admin", password="wrong") as rig:
        mark = rig[1].mark()
        assert not await rig[0].poll()
        error = await rig[1].wait_for(EVENT, after=mark)
    assert error.json["kind"] == "error"
    assert "401" in error.json["reason"]
    async with nrgkick_bridge(broker, fake, username="admin", password="secret") as rig:
        s = await state_after_poll(rig)
    assert s["status"] == "Standby"


async def test_a_bad_answer_is_an_error_and_the_bridge_recovers(
    broker: Broker, fake: FakeNrgkick
) -> None:
    async with nrgkick_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        fake.faults.not_json = True
        mark = rig[1].mark()
        assert not await rig[0].poll()
        error = await rig[1].wait_for(EVENT, after=mark)
        await rig[1].wait_for(AVAILABILITY, lambda m: m.text == "offline", after=mark)
        fake.faults.not_json = False
        await state_after_poll(rig)
        await rig[1].wait_for(AVAILABILITY, lambda m: m.text == "online", after=mark)
    assert "not JSON" in error.json["reason"]


async def test_a_connect_reads_and_takes_current_and_pause(
    broker: Broker, fake: FakeNrgkick
) -> None:
    fake.state.plugged = True
    async with nrgkick_bridge(broker, fake, **connect_settings(fake)) as rig:
        s = await state_after_poll(rig)
        event = await answer(rig, {"current": 8, "mode": "pause"})
        after = await state_after_poll(rig)
    assert (s["charging"], s["plugged"], s["power"], s["phases"]) == (True, True, 11040.0, 3)
    assert event.json["kind"] == "applied", event.json
    assert (after["current"], after["mode"], after["charging"]) == (8.0, "pause", False)


async def test_a_connect_with_the_wrong_password_is_rejected_on_read_back(
    broker: Broker, fake: FakeNrgkick
) -> None:
    async with nrgkick_bridge(broker, fake, **connect_settings(fake, "1234")) as rig:
        await state_after_poll(rig)
        event = await answer(rig, {"current": 8})
        phases = await answer(rig, {"phases": 1}, "ph")
    assert event.json["kind"] == "rejected"
    assert "did not take current 8 A" in event.json["reason"]
    assert fake.state.current_set == 16.0
    assert phases.json["kind"] == "rejected"
    assert "cannot switch phases" in phases.json["reason"]


async def test_home_assistant_gets_the_chargers_entities(broker: Broker, fake: FakeNrgkick) -> None:
    async with nrgkick_bridge(broker, fake, discovery=True) as (bridge, obs):
        assert await bridge.poll()
        config = await obs.wait_for(
            "homeassistant/device/nrgkick/config",
            lambda m: (
                m.json["dev"].get("model") == "NRGKICK Gen2" and "sw_version" in m.json["dev"]
            ),
        )
    cmps = config.json["cmps"]
    assert (cmps["current"]["p"], cmps["current"]["min"], cmps["current"]["max"]) == (
        "number", 6, 32)  # fmt: skip
    assert cmps["current"]["command_topic"] == "wattbus/nrgkick/set/current"
    assert (cmps["mode"]["p"], cmps["mode"]["options"]) == ("select", ["normal", "pause"])
    assert cmps["phases"]["command_topic"] == "wattbus/nrgkick/set/phases"
    assert config.json["dev"]["serial_number"] == fake.state.serial
    assert config.json["dev"]["sw_version"] == fake.state.firmware


async def test_a_connects_phases_are_not_offered_as_a_setting(
    broker: Broker, fake: FakeNrgkick
) -> None:
    async with nrgkick_bridge(broker, fake, discovery=True, **connect_settings(fake)) as rig:
        assert await rig[0].poll()
        config = await rig[1].wait_for(
            "homeassistant/device/nrgkick/config",
            lambda m: m.json["dev"].get("model") == "NRGKICK + Connect",
        )
    assert config.json["cmps"]["phases"]["p"] == "sensor"
    assert "command_topic" not in config.json["cmps"]["phases"]
