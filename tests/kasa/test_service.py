"""The Kasa bridge on the real Mosquitto with the ACL, through python-kasa, against the fake
plug over TCP. Each poll is one `bridge.poll()`, so the test decides when the plug is read."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from support.broker import Broker
from support.mqtt import bus_settings, observer, running
from wattbus_kasa.plug import Plug, device_config
from wattbus_kasa.service import KasaPlug, serve
from wattbus_kasa.settings import KasaSettings
from wattbus_simulator.fake_kasa import REFUSAL, FakeKasa, start_fake_kasa

from .rig import AVAILABILITY, EVENT, SET, STATE, Rig, answer, plug_bridge, state_after_poll


def kasa_bridge(
    broker: Broker, fake: FakeKasa, *, discovery: bool = False, **settings: Any
) -> contextlib.AbstractAsyncContextManager[Rig]:
    own = KasaSettings.only(host="127.0.0.1", port=fake.port, **settings)
    return plug_bridge(broker, own, Plug(device_config(own)), discovery=discovery)


async def test_an_hs110_in_wattbus_units(broker: Broker, fake: FakeKasa) -> None:
    async with kasa_bridge(broker, fake) as rig:
        s = await state_after_poll(rig)
        await rig[1].wait_for(AVAILABILITY, lambda m: m.text == "online")
    assert (s["on"], s["power"], s["voltage"]) == (True, 412.0, 229.6)
    assert s["current"] == pytest.approx(412.0 / 229.6, abs=0.001)
    assert (s["energy"], s["energy_today"]) == (183_742.0, 1_264.0)  # Wh, from python-kasa's kWh
    assert (s["model"], s["alias"]) == ("HS110(EU)", "Dehumidifier")


async def test_an_hs100_without_a_meter_leaves_the_readings_out(
    broker: Broker, fake: FakeKasa
) -> None:
    fake.state.meter, fake.state.model = False, "HS100(UK)"
    async with kasa_bridge(broker, fake) as rig:
        s = await state_after_poll(rig)
    assert (s["on"], s["model"]) == (True, "HS100(UK)")
    for field in ("power", "energy", "energy_today", "voltage", "current"):
        assert s.get(field) is None, field
    assert "emeter.get_realtime" not in fake.queried()


async def test_off_and_on_are_switched_and_read_back(broker: Broker, fake: FakeKasa) -> None:
    async with kasa_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        off = await answer(rig, json.dumps({"on": False, "id": "off"}), "off")
        dark = await state_after_poll(rig)
        on = await answer(rig, "ON", topic=f"{SET}/on")  # as Home Assistant's switch sends it
        lit = await state_after_poll(rig)
    assert (off.json["kind"], off.json["command"]) == ("applied", {"on": False})
    assert off.json["reason"] == "the plug shows off"
    assert (dark["on"], dark["power"], dark["current"]) == (False, 0.0, 0.0)
    assert on.json["kind"] == "applied", on.json
    assert (lit["on"], lit["power"]) == (True, 412.0)
    assert fake.faults.writes == [0, 1]


async def test_a_write_the_plug_drops_is_rejected(broker: Broker, fake: FakeKasa) -> None:
    async with kasa_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        fake.faults.drop_writes = True
        event = await answer(rig, json.dumps({"on": False, "id": "c1"}))
    assert event.json["kind"] == "rejected"
    assert event.json["reason"] == "on: the plug did not switch off (it shows on)"
    assert fake.faults.writes == [0] and fake.state.relay


async def test_a_plug_that_refuses_is_rejected_in_its_own_words(
    broker: Broker, fake: FakeKasa
) -> None:
    async with kasa_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        fake.faults.refuse = True
        event = await answer(rig, json.dumps({"on": False, "id": "c1"}))
        assert await rig[0].poll()  # still reachable: a refusal is an answer
    assert event.json["kind"] == "rejected"
    assert "the plug says" in event.json["reason"] and REFUSAL["err_msg"] in event.json["reason"]
    assert fake.faults.writes == [0] and fake.state.relay


@pytest.mark.parametrize(
    ("payload", "topic", "why"),
    [
        ('{"on": 1, "id": "c1"}', SET, "on: Input should be a valid boolean"),
        ('{"on": null, "id": "c1"}', SET, "null sets nothing"),
        ('{"on": true, "colour": "red", "id": "c1"}', SET, "colour"),
        ('{"id": "c1"}', SET, "command sets nothing"),
        ("1", f"{SET}/on", "on: Input should be a valid boolean"),
        ("on", f"{SET}/power", "unknown field 'power'"),
    ],
)
async def test_a_bad_command_is_rejected_and_nothing_is_sent(
    broker: Broker, fake: FakeKasa, payload: str, topic: str, why: str
) -> None:
    async with kasa_bridge(broker, fake) as rig:
        await state_after_poll(rig)
        event = await answer(rig, payload, topic=topic)
    assert event.json["kind"] == "rejected"
    assert why in event.json["reason"]
    assert fake.faults.writes == [] and fake.state.relay


async def test_an_unreachable_plug_is_offline_once_and_comes_back(
    broker: Broker, fake: FakeKasa
) -> None:
    async with kasa_bridge(broker, fake) as (bridge, obs):
        await state_after_poll((bridge, obs))
        assert isinstance(bridge.device, KasaPlug)
        device = bridge.device.plug.device  # python-kasa's, kept while the plug is away
        await fake.close()
        mark = obs.mark()
        assert not await bridge.poll()
        assert not await bridge.poll()
        event = await obs.wait_for(EVENT, after=mark)
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline", after=mark)
        switched = await answer((bridge, obs), json.dumps({"on": False, "id": "c1"}))
        async with await start_fake_kasa(fake.state, port=fake.port) as back:
            s = await state_after_poll((bridge, obs))
            await obs.wait_for(AVAILABILITY, lambda m: m.text == "online", after=mark)
    assert event.json["kind"] == "error" and "Unable to connect" in event.json["reason"]
    errors = [m for m in obs.messages[mark:] if m.topic == EVENT and m.json.get("id") is None]
    assert len(errors) == 1
    assert switched.json["kind"] == "error"  # the plug could not be reached, not refused
    assert s["on"] is True and back.connections == 1
    assert bridge.device.plug.device is device


async def test_an_answer_python_kasa_cannot_read_is_an_error_and_the_bridge_recovers(
    broker: Broker, fake: FakeKasa
) -> None:
    async with kasa_bridge(broker, fake) as (bridge, obs):
        await state_after_poll((bridge, obs))
        fake.faults.garble = True
        mark = obs.mark()
        assert not await bridge.poll()
        event = await obs.wait_for(EVENT, after=mark)
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline", after=mark)
        fake.faults.garble = False
        s = await state_after_poll((bridge, obs))
    assert event.json["kind"] == "error"
    assert "answer cannot be read: KeyError" in event.json["reason"]
    assert s["on"] is True


async def test_a_plug_not_there_at_start_is_connected_when_it_comes(
    broker: Broker, fake: FakeKasa
) -> None:
    await fake.close()
    async with kasa_bridge(broker, fake) as (bridge, obs):
        assert not await bridge.poll()
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline" and not m.retain)
        switched = await answer((bridge, obs), json.dumps({"on": False, "id": "c1"}))
        async with await start_fake_kasa(fake.state, port=fake.port):
            s = await state_after_poll((bridge, obs))
    assert switched.json["kind"] == "error"
    assert "not been reached" in switched.json["reason"]
    assert s["power"] == 412.0


async def test_home_assistant_gets_a_switch_and_the_meters_sensors(
    broker: Broker, fake: FakeKasa
) -> None:
    async with kasa_bridge(broker, fake, discovery=True) as (bridge, obs):
        assert await bridge.poll()
        config = await obs.wait_for(
            "homeassistant/device/kasa/config", lambda m: m.json["dev"].get("model") == "HS110(EU)"
        )
    cmps, dev = config.json["cmps"], config.json["dev"]
    assert (cmps["on"]["p"], cmps["on"]["command_topic"]) == ("switch", f"{SET}/on")
    assert (cmps["power"]["unit_of_measurement"], cmps["power"]["state_class"]) == (
        "W", "measurement")  # fmt: skip
    for energy in ("energy", "energy_today"):
        assert (cmps[energy]["unit_of_measurement"], cmps[energy]["state_class"]) == (
            "Wh", "total_increasing")  # fmt: skip
    assert (dev["name"], dev["manufacturer"]) == ("Dehumidifier", "TP-Link")
    assert (dev["serial_number"], dev["sw_version"]) == (fake.state.mac, "1.0.9")


async def test_the_service_keeps_one_connection_to_the_plug(broker: Broker, fake: FakeKasa) -> None:
    s = KasaSettings.only(host="127.0.0.1", port=fake.port, poll_interval=1.0)
    async with observer(broker) as obs, running(serve(s, bus_settings(broker, "kasa"))):
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
        first = await obs.wait_for(STATE)
        await obs.wait_for("homeassistant/device/kasa/config")
        fake.state.load = 95.0
        changed = await obs.wait_for(STATE, lambda m: m.json["power"] == 95.0)
    assert first.json["power"] == 412.0 and changed.json["on"] is True
    assert fake.connections == 1
