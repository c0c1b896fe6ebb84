"""The myenergi bridge on the real Mosquitto with the ACL, against the fake cloud over HTTP.
Each poll is one `bridge.poll()`, so the test decides when the Zappi is read; a command's
read-back waits 10 ms between reads instead of 2 s."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from support.broker import Broker
from support.mqtt import Msg, Observer, bus_settings, observer, running
from wattbus.bridge import Bridge
from wattbus.bus import Bus
from wattbus.models import ChargerState
from wattbus_myenergi.commands import ZappiCommand
from wattbus_myenergi.service import make_bridge, open_zappi
from wattbus_myenergi.settings import MyenergiSettings
from wattbus_simulator.fake_myenergi import ECO, ECO_PLUS, FAST, FakeMyenergi

STATE = "wattbus/zappi/state"
EVENT = "wattbus/zappi/event"
AVAILABILITY = "wattbus/zappi/availability"
SET = "wattbus/zappi/set"
TRIES = 3
Rig = tuple[Bridge[ChargerState, ZappiCommand], Observer]


@contextlib.asynccontextmanager
async def zappi_bridge(
    broker: Broker, fake: FakeMyenergi, *, key: str | None = None, discovery: bool = False
) -> AsyncIterator[Rig]:
    settings = MyenergiSettings.only(
        hub_serial=fake.state.hub_serial,
        api_key=key or fake.state.api_key,
        loopback_port=fake.port,
    )
    bus = Bus(bus_settings(broker, "zappi", discovery=discovery), settings.id)
    async with open_zappi(settings) as zappi:
        bridge = make_bridge(settings, bus, zappi, read_back_tries=TRIES, read_back_every=0.01)
        async with observer(broker) as obs, running(bus.run()):
            await bus.connected.wait()
            yield bridge, obs


async def state_after_poll(rig: Rig) -> dict[str, Any]:
    bridge, obs = rig
    mark = obs.mark()
    assert await bridge.poll()
    msg = await obs.wait_for(STATE, lambda m: not m.retain, after=mark)  # not an old test's
    result: dict[str, Any] = msg.json
    return result


async def answer(obs: Observer, body: dict[str, object] | str, id: str, field: str = "") -> Msg:
    mark = obs.mark()
    if field:
        assert isinstance(body, str)
        await obs.publish(f"{SET}/{field}", body)
        return await obs.wait_for(EVENT, after=mark)
    payload = {**body, "id": id} if isinstance(body, dict) else body
    await obs.publish(SET, payload)
    return await obs.wait_for(EVENT, lambda m: m.json.get("id") in (id, None), after=mark)


async def test_a_car_charging_is_c2_and_waiting_for_sun_is_c1(
    broker: Broker, fake: FakeMyenergi
) -> None:
    fake.state.plug()
    fake.state.mode = FAST
    async with zappi_bridge(broker, fake) as rig:
        charging = await state_after_poll(rig)
        await rig[1].wait_for(AVAILABILITY, lambda m: m.text == "online")
        fake.state.mode = ECO_PLUS  # set on the Zappi itself; no surplus
        waiting = await state_after_poll(rig)
    assert charging["charging"] is True
    assert (charging["status_code"], charging["status"]) == ("C2", "Charging")
    assert (charging["power"], charging["plugged"]) == (7360.0, True)
    assert (charging["mode"], charging["mode_name"]) == ("normal", "Fast")
    assert waiting["charging"] is False
    assert (waiting["status_code"], waiting["status"]) == ("C1", "EV ready to charge")
    assert (waiting["mode"], waiting["mode_name"], waiting["power"]) == ("solar", "Eco+", 0.0)


async def test_a_mode_is_applied_once_the_zappi_shows_it(
    broker: Broker, fake: FakeMyenergi
) -> None:
    fake.faults.lag = TRIES  # the Zappi shows it on the last read
    async with zappi_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        event = await answer(rig[1], {"mode": "min_solar"}, "m1")
        after = await state_after_poll(rig)
    assert (event.json["kind"], event.json["reason"]) == ("applied", "the Zappi shows mode Eco")
    assert event.json["command"] == {"mode": "Eco"}
    assert fake.state.mode == ECO
    assert (after["mode"], after["mode_name"]) == ("min_solar", "Eco")


async def test_a_mode_the_zappi_ignores_is_rejected_with_what_it_shows(
    broker: Broker, fake: FakeMyenergi
) -> None:
    fake.faults.ignore_commands = True
    async with zappi_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        event = await answer(rig[1], {"mode": "fast"}, "m2")
    assert event.json["kind"] == "rejected"
    assert event.json["reason"] == (
        "the Zappi did not take mode Fast: it shows mode Eco+, boost off after 4 reads over 0.03 s"
    )
    assert len(fake.commands) == 1  # sent once, not repeated


async def test_a_command_shown_in_part_is_an_error_naming_the_rest(
    broker: Broker, fake: FakeMyenergi
) -> None:
    fake.state.mode = ECO_PLUS
    fake.state.plug()
    async with zappi_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        event = await answer(rig[1], {"mode": "Eco", "boost": 3}, "b1")
        assert (event.json["kind"], event.json["reason"]) == (
            "applied", "the Zappi shows mode Eco, boost 3 kWh")  # fmt: skip
        fake.faults.ignore_commands = True  # it is in Eco already; the boost goes on
        event = await answer(rig[1], {"mode": "eco", "stop_boost": True}, "b2")
    assert event.json["kind"] == "error"
    assert event.json["reason"] == (
        "device error: the Zappi took mode Eco but not stop_boost: it shows mode Eco, boost on, "
        "3 kWh after 4 reads over 0.03 s"
    )


async def test_a_boost_in_fast_is_refused_and_nothing_is_sent(
    broker: Broker, fake: FakeMyenergi
) -> None:
    fake.state.mode = FAST
    async with zappi_bridge(broker, fake) as rig:
        event = await answer(rig[1], {"boost": 5}, "b3")
    assert event.json["kind"] == "rejected"
    assert event.json["reason"] == "boost works in Eco or Eco+ only, and the Zappi is in Fast"
    assert fake.commands == []


async def test_plain_values_on_set_field(broker: Broker, fake: FakeMyenergi) -> None:
    async with zappi_bridge(broker, fake) as rig:
        named = await answer(rig[1], "Eco", "", field="mode_name")
        boost = await answer(rig[1], "5", "", field="boost")
    assert (named.json["kind"], named.json["reason"]) == ("applied", "the Zappi shows mode Eco")
    assert (boost.json["kind"], boost.json["reason"]) == ("applied", "the Zappi shows boost 5 kWh")
    assert (fake.state.boosting, fake.state.boost_kwh) == (True, 5)


async def test_bad_commands_are_rejected_with_reasons_and_nothing_is_sent(
    broker: Broker, fake: FakeMyenergi
) -> None:
    bad: dict[str, tuple[dict[str, object], str]] = {
        "t1": ({"boost": True}, "boost: Input should be a number, not a boolean"),
        "t2": ({"mode": "turbo"}, "mode: Input should be one of Fast, Eco, Eco+, Stopped"),
        "t3": ({"current": 16}, "current: Extra inputs are not permitted"),
        "t4": ({"boost": None}, "boost: null sets nothing; leave the field out"),
        "t5": ({"stop_boost": False}, "stop_boost: Value error, stop_boost takes only true"),
        "t6": ({"boost": 5, "stop_boost": True}, "boost and stop_boost: one or the other"),
    }
    async with zappi_bridge(broker, fake) as rig:
        for id, (body, reason) in bad.items():
            event = await answer(rig[1], body, id)
            assert event.json["kind"] == "rejected", id
            assert event.json["reason"].startswith(reason), (id, event.json["reason"])
            assert event.json["id"] == id
        junk = await answer(rig[1], "{not json", "")
        assert junk.json["kind"] == "rejected"
        assert await rig[0].poll()  # still polling
    assert fake.commands == []


async def test_a_wrong_key_is_an_error_and_offline_and_the_bridge_goes_on(
    broker: Broker, fake: FakeMyenergi
) -> None:
    async with zappi_bridge(broker, fake, key="not-the-key") as (bridge, obs):
        async with running(bridge.run()) as loop:
            error = await obs.wait_for(EVENT, lambda m: m.json["kind"] == "error")
            await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline" and not m.retain)
            assert not loop.done()
        fake.state.api_key = "not-the-key"  # the key is put right on the hub's side
        mark = obs.mark()
        assert await bridge.poll()
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online", after=mark)
    assert "myenergi knows no hub 21509692 with this API key" in error.json["reason"]


async def test_a_server_error_is_offline_until_it_answers_again(
    broker: Broker, fake: FakeMyenergi
) -> None:
    async with zappi_bridge(broker, fake) as (bridge, obs):
        assert await bridge.poll()
        fake.faults.status_500 = True
        mark = obs.mark()
        assert not await bridge.poll()
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline", after=mark)
        error = await obs.wait_for(EVENT, lambda m: m.json["kind"] == "error", after=mark)
        fake.faults.status_500 = False
        assert await bridge.poll()
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online", after=mark)
    assert "HTTP 500" in error.json["reason"]


async def test_home_assistant_gets_the_zappis_entities(broker: Broker, fake: FakeMyenergi) -> None:
    async with zappi_bridge(broker, fake, discovery=True) as (bridge, obs):
        assert await bridge.poll()
        config = await obs.wait_for(
            "homeassistant/device/zappi/config", lambda m: "serial_number" in m.json["dev"]
        )
    cmps = config.json["cmps"]
    assert cmps["charging"]["p"] == "binary_sensor"
    assert (cmps["mode_name"]["p"], cmps["mode_name"]["options"]) == (
        "select", ["Fast", "Eco", "Eco+", "Stopped"])  # fmt: skip
    assert cmps["mode_name"]["command_topic"] == "wattbus/zappi/set/mode_name"
    assert (cmps["boost"]["p"], cmps["boost"]["min"], cmps["boost"]["max"]) == ("number", 1, 99)
    assert config.json["dev"]["serial_number"] == str(fake.state.serial)
    assert config.json["dev"]["sw_version"] == fake.state.firmware
