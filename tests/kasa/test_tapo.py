"""The Kasa bridge's Tapo path: the real bridge and python-kasa's KLAP on the real Mosquitto
with the ACL, against the fake Tapo P110 over HTTP on loopback. Each poll is one
`bridge.poll()`, so the test decides when the plug is read."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from typing import Any

import pytest
from support.broker import Broker
from support.mqtt import bus_settings, observer, running
from wattbus_kasa.plug import READ_LIMIT, TIMEOUT, Plug, device_config
from wattbus_kasa.service import serve
from wattbus_kasa.settings import KasaSettings
from wattbus_simulator.fake_tapo import FakeTapo

from .rig import AVAILABILITY, EVENT, SET, STATE, Rig, answer, plug_bridge, state_after_poll

OWNER = {"username": "owner@example.com", "password": "tapo-secret"}  # TapoPlugState's


def tapo_settings(fake: FakeTapo, **settings: Any) -> KasaSettings:
    return KasaSettings.only(host="127.0.0.1", port=fake.port, **{**OWNER, **settings})


def tapo_bridge(
    broker: Broker, fake: FakeTapo, *, discovery: bool = False, query_s: int = TIMEOUT,
    **settings: Any,
) -> contextlib.AbstractAsyncContextManager[Rig]:  # fmt: skip
    own = tapo_settings(fake, **settings)
    plug = Plug(dataclasses.replace(device_config(own), timeout=query_s))
    return plug_bridge(broker, own, plug, discovery=discovery)


async def test_a_p110_in_wattbus_units(broker: Broker, tapo: FakeTapo) -> None:
    async with tapo_bridge(broker, tapo) as rig:
        s = await state_after_poll(rig)
        await rig[1].wait_for(AVAILABILITY, lambda m: m.text == "online")
    assert (s["on"], s["power"], s["voltage"]) == (True, 1850.0, 231.4)
    assert s["current"] == pytest.approx(1850.0 / 231.4, abs=0.001)
    assert s["energy_today"] == 2316.0  # Wh: the plug's Wh, python-kasa's kWh, the bus's Wh
    assert s.get("energy") is None  # a Tapo counts no total, and 0 would be a lie
    assert (s["model"], s["alias"]) == ("P110(EU)", "Washing machine")
    assert tapo.faults.handshakes == 1 and tapo.faults.unknown == []


async def test_a_p100_without_a_meter_leaves_the_readings_out(
    broker: Broker, tapo: FakeTapo
) -> None:
    tapo.state.meter, tapo.state.model = False, "P100"
    async with tapo_bridge(broker, tapo) as rig:
        s = await state_after_poll(rig)
    assert (s["on"], s["model"]) == (True, "P100(EU)")
    for field in ("power", "energy", "energy_today", "voltage", "current"):
        assert s.get(field) is None, field
    assert "get_energy_usage" not in tapo.faults.methods and tapo.faults.unknown == []


async def test_off_and_on_are_switched_and_read_back(broker: Broker, tapo: FakeTapo) -> None:
    async with tapo_bridge(broker, tapo) as rig:
        await state_after_poll(rig)
        off = await answer(rig, json.dumps({"on": False, "id": "off"}), "off")
        dark = await state_after_poll(rig)
        on = await answer(rig, "ON", topic=f"{SET}/on")  # as Home Assistant's switch sends it
        lit = await state_after_poll(rig)
    assert (off.json["kind"], off.json["reason"]) == ("applied", "the plug shows off")
    assert (dark["on"], dark["power"], dark["current"]) == (False, 0.0, 0.0)
    assert on.json["kind"] == "applied", on.json
    assert (lit["on"], lit["power"]) == (True, 1850.0)
    assert tapo.faults.writes == [False, True] and tapo.faults.handshakes == 1


async def test_a_write_the_plug_drops_is_rejected(broker: Broker, tapo: FakeTapo) -> None:
    async with tapo_bridge(broker, tapo) as rig:
        await state_after_poll(rig)
        tapo.faults.drop_writes = True
        event = await answer(rig, json.dumps({"on": False, "id": "c1"}))
    assert event.json["kind"] == "rejected"
    assert event.json["reason"] == "on: the plug did not switch off (it shows on)"
    assert tapo.faults.writes == [False] and tapo.state.relay


async def test_a_plug_that_refuses_is_rejected_in_its_own_words(
    broker: Broker, tapo: FakeTapo
) -> None:
    async with tapo_bridge(broker, tapo) as rig:
        await state_after_poll(rig)
        tapo.faults.refuse = True
        event = await answer(rig, json.dumps({"on": False, "id": "c1"}))
        assert await rig[0].poll()  # still reachable: a refusal is an answer
    assert event.json["kind"] == "rejected"
    assert event.json["reason"].startswith("on: the plug says: ")
    assert "DEVICE_ERROR(-1301) for method: set_device_info" in event.json["reason"]
    assert tapo.faults.writes == [False] and tapo.state.relay


async def test_a_plug_that_forgot_the_session_is_logged_in_again(
    broker: Broker, tapo: FakeTapo
) -> None:
    async with tapo_bridge(broker, tapo) as rig:
        await state_after_poll(rig)
        mark = rig[1].mark()
        tapo.forget_sessions()  # as after a reboot: the next request gets a 403
        tapo.state.load = 640.0
        s = await state_after_poll(rig)
    assert s["power"] == 640.0 and tapo.faults.handshakes == 2
    assert not [m for m in rig[1].messages[mark:] if m.topic == EVENT]


async def test_a_wrong_login_is_an_error_offline_and_the_bridge_lives(
    broker: Broker, tapo: FakeTapo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wattbus.bridge")
    async with tapo_bridge(broker, tapo, password="not-the-password") as (bridge, obs):
        assert not await bridge.poll()
        event = await obs.wait_for(EVENT)
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline" and not m.retain)
        switched = await answer((bridge, obs), json.dumps({"on": False, "id": "c1"}))
        assert not await bridge.poll()  # tried again, told once
        tapo.state.password = "not-the-password"  # the owner changes the account's password
        s = await state_after_poll((bridge, obs))
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
    assert event.json["kind"] == "error"
    assert "check that your e-mail and password" in event.json["reason"]
    errors = [m for m in obs.messages if m.topic == EVENT and m.json.get("id") is None]
    assert len(errors) == 1
    assert switched.json["kind"] == "error" and tapo.faults.writes == []
    assert s["on"] is True and tapo.faults.refused_logins == 0  # refused at handshake1
    assert "e-mail and password" in caplog.text and "not-the-password" not in caplog.text


async def test_a_plug_that_stops_answering_is_offline_within_the_read_limit(
    broker: Broker, tapo: FakeTapo
) -> None:
    async with tapo_bridge(broker, tapo, query_s=1) as (bridge, obs):
        await state_after_poll((bridge, obs))
        tapo.faults.delay = 60.0  # gone from the Wi-Fi, its connection still open
        mark = obs.mark()
        assert not await bridge.poll()
        event = await obs.wait_for(EVENT, after=mark)
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "offline", after=mark)
        tapo.faults.delay, logins = 0.0, tapo.faults.handshakes
        s = await state_after_poll((bridge, obs))
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online", after=mark)
    assert event.json["kind"] == "error"
    assert event.json["reason"] == f"device error: the plug did not answer within {READ_LIMIT} s"
    assert s["on"] is True and tapo.faults.handshakes == logins + 1  # connected anew


async def test_home_assistant_gets_the_p110(broker: Broker, tapo: FakeTapo) -> None:
    async with tapo_bridge(broker, tapo, discovery=True) as (bridge, obs):
        assert await bridge.poll()
        config = await obs.wait_for(
            "homeassistant/device/kasa/config", lambda m: m.json["dev"].get("model") == "P110(EU)"
        )
    cmps, dev = config.json["cmps"], config.json["dev"]
    assert (cmps["on"]["p"], cmps["energy_today"]["unit_of_measurement"]) == ("switch", "Wh")
    assert (dev["name"], dev["manufacturer"]) == ("Washing machine", "TP-Link")
    assert (dev["serial_number"], dev["sw_version"]) == ("3C:52:A1:40:50:60", "1.3.1")


async def test_the_service_reads_a_tapo_on_its_port(broker: Broker, tapo: FakeTapo) -> None:
    s = tapo_settings(tapo, poll_interval=1.0)
    async with observer(broker) as obs, running(serve(s, bus_settings(broker, "kasa"))):
        await obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
        first = await obs.wait_for(STATE)
        tapo.state.load = 95.0
        changed = await obs.wait_for(STATE, lambda m: m.json["power"] == 95.0)
    assert first.json["power"] == 1850.0 and changed.json["on"] is True
    assert tapo.faults.handshakes == 1  # one login kept across polls
