"""The bridge with `source=mqtt`: the fake device's own MQTT client pushes, the real bridge
(`serve`) reads it from the bus, both through the real Mosquitto and its ACL, as users
`shelly-grid-meter` and `grid-meter`."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.broker import Broker, password
from support.mqtt import Msg, Observer, bus_settings, observer, running
from support.shelly_push import EM, ONLINE
from wattbus.service import run_service
from wattbus_shelly.service import SERVICE, serve
from wattbus_shelly.settings import ShellySettings
from wattbus_simulator.fake_shelly import ShellyPro3EMState
from wattbus_simulator.fake_shelly_mqtt import FakeShellyMqtt
from wattbus_simulator.processes import ServiceProcess, bus_env

STATE = "wattbus/grid-meter/state"
AVAILABILITY = "wattbus/grid-meter/availability"
EVENT = "wattbus/grid-meter/event"


def online(m: Msg) -> bool:
    return m.text == "online"


def offline(m: Msg) -> bool:
    return m.text == "offline"


def index(obs: Observer, msg: Msg) -> int:
    """Where `msg`, as returned by `wait_for`, is in the record; later messages come after it."""
    return next(i for i, m in enumerate(obs.messages) if m is msg)


@contextlib.asynccontextmanager
async def bridge(
    broker: Broker, obs: Observer, **settings: Any
) -> AsyncIterator[asyncio.Task[None]]:
    """The real service, listening: a push the device sends from now on reaches it."""
    shelly = ShellySettings(source="mqtt", **settings)
    mark = obs.mark()
    async with running(serve(shelly, bus_settings(broker, "grid-meter", discovery=False))) as task:
        # The bus publishes availability only after its subscriptions are in place.
        await obs.wait_for(AVAILABILITY, after=mark)
        yield task


async def test_a_push_is_published_at_once_in_wattbus_units_and_signs(
    own_broker: Broker, device: FakeShellyMqtt
) -> None:
    async with observer(own_broker) as obs, bridge(own_broker, obs):
        await device.start()
        state = await obs.wait_for(STATE)
        await obs.wait_for(AVAILABILITY, online)

    s = state.json
    assert s["power"] == pytest.approx(812.4 + 95.1 - 1404.6)  # < 0: the house exports
    assert (s["power_l1"], s["power_l2"], s["power_l3"]) == (812.4, 95.1, -1404.6)
    assert (s["voltage_l1"], s["voltage_l2"], s["voltage_l3"]) == (230.2, 228.4, 230.8)
    assert s["current_l1"] == round(812.4 / (230.2 * 0.9), 3)
    assert s["current_l3"] == -round(1404.6 / (230.8 * 0.99), 3)  # the sign of L3's power
    assert "energy_import" not in s and "energy_export" not in s  # no emdata:0 yet


async def test_energy_counters_come_with_emdata(own_broker: Broker, device: FakeShellyMqtt) -> None:
    async with observer(own_broker) as obs, bridge(own_broker, obs):
        await device.start()
        await obs.wait_for(STATE)
        await device.push_energy()
        state = await obs.wait_for(STATE, lambda m: "energy_import" in m.json)

    assert state.json["energy_import"] == pytest.approx(1520333.12)  # Wh, as pushed
    assert state.json["energy_export"] == pytest.approx(12.31 + 731045.66)
    assert state.json["power_l3"] == -1404.6


async def test_the_device_saying_false_is_offline_and_nothing_from_before_comes_back(
    own_broker: Broker, device: FakeShellyMqtt, state: ShellyPro3EMState
) -> None:
    async with observer(own_broker) as obs, bridge(own_broker, obs):
        await device.start()
        up = await obs.wait_for(AVAILABILITY, online)
        await device.stop()
        down = await obs.wait_for(AVAILABILITY, offline, after=index(obs, up))
        error = await obs.wait_for(EVENT, after=index(obs, up))
        state.phases[0].act_power = 1000.0
        await device.start()  # says true, then pushes
        back = await obs.wait_for(AVAILABILITY, online, after=index(obs, down))
        fresh = await obs.wait_for(STATE, after=index(obs, down))

    assert "device says offline" in error.json["reason"]
    after_down = [m for m in obs.messages[index(obs, down) :] if m.topic == STATE]
    assert after_down and all(m.json["power_l1"] == 1000.0 for m in after_down)
    assert index(obs, back) < index(obs, fresh)


async def test_silence_longer_than_max_silence_is_offline_until_the_next_push(
    own_broker: Broker, device: FakeShellyMqtt
) -> None:
    async with observer(own_broker) as obs, bridge(own_broker, obs, max_silence=0.5):
        await device.start()  # then quiet: the house does not change
        up = await obs.wait_for(AVAILABILITY, online)
        down = await obs.wait_for(AVAILABILITY, offline, after=index(obs, up))
        error = await obs.wait_for(EVENT, after=index(obs, up))
        await device.push()  # the same reading, pushed again
        back = await obs.wait_for(AVAILABILITY, online, after=index(obs, down))
        # and its state, so that the test ends with the bridge idle: on Python 3.11 a cancel
        # that meets a publish completing can be lost inside aiomqtt (asyncio.wait_for)
        await obs.wait_for(STATE, after=index(obs, back))

    assert "no push for" in error.json["reason"]
    assert error.json["reason"].startswith(f"device error: {EM}: no push for")


async def test_a_malformed_push_changes_nothing_and_is_reported_once_per_streak(
    own_broker: Broker,
    device: FakeShellyMqtt,
    state: ShellyPro3EMState,
) -> None:
    async with observer(own_broker) as obs, bridge(own_broker, obs) as task:
        await device.start()
        first = await obs.wait_for(STATE)
        mark = index(obs, first)
        await device.publish_raw(EM, b"not json")
        await device.publish_raw(EM, b'{"id": 0, "a_current": 1.0}')
        await device.publish_raw(ONLINE, b"maybe")
        await obs.wait_for(EVENT, lambda m: m.json["topic"] == ONLINE, after=mark)
        state.phases[0].act_power = 1000.0
        await device.push()
        good = await obs.wait_for(STATE, lambda m: m.json["power_l1"] == 1000.0, after=mark)
        await device.publish_raw(EM, b"[]")  # a new streak
        await obs.wait_for(EVENT, lambda m: m.json["topic"] == EM, after=index(obs, good))
        alive = not task.done()
        record = obs.messages[mark:]  # before the bridge's clean stop says offline

    events = [m.json for m in record if m.topic == EVENT]
    assert [(e["kind"], e["topic"]) for e in events] == [
        ("error", EM),
        ("error", ONLINE),
        ("error", EM),
    ]
    assert events[0]["reason"].startswith("malformed payload: Invalid JSON")
    assert alive
    between = [m for m in obs.messages[mark : index(obs, good)] if m.topic == STATE]
    assert all(m.json == first.json | {"ts": m.json["ts"]} for m in between)
    assert not any(m.topic == AVAILABILITY and offline(m) for m in record)


# --- settings ---------------------------------------------------------------------------------


async def test_the_service_process_follows_the_device(
    own_broker: Broker, device: FakeShellyMqtt, tmp_path: Path
) -> None:
    """`wattbus run shelly` as its container runs it, no device address, only the broker."""
    env = bus_env(own_broker.port, "grid-meter", password("grid-meter"))
    env["WATTBUS_SHELLY_SOURCE"] = "mqtt"
    process = ServiceProcess("shelly", env, tmp_path)
    async with observer(own_broker) as obs:
        process.start()
        try:
            await obs.wait_for(AVAILABILITY, offline)  # up, and the device has said nothing
            await device.start()
            state = await obs.wait_for(STATE)
            await obs.wait_for(AVAILABILITY, online)
            mark = obs.mark()
            await device.stop()  # says false, as its last will would
            await obs.wait_for(AVAILABILITY, offline, after=mark)
        finally:
            process.stop()
    assert state.json["power_l3"] == -1404.6


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No WATTBUS_* from the environment and no .env: only what the test sets."""
    for name in os.environ:
        if name.startswith("WATTBUS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_mqtt_needs_no_host_and_reads_shelly_slash_its_id(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("WATTBUS_SHELLY_SOURCE", "mqtt")
    clean_env.setenv("WATTBUS_SHELLY_ID", "meter-2")

    settings, _ = SERVICE.load()

    assert isinstance(settings, ShellySettings)
    assert settings.host is None
    assert settings.push_prefix == "shelly/meter-2"
    assert ShellySettings(source="mqtt", mqtt_prefix="home/em").push_prefix == "home/em"


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"WATTBUS_SHELLY_SOURCE": "poll"}, "WATTBUS_SHELLY_HOST is required"),
        (
            {"WATTBUS_SHELLY_SOURCE": "mqtt", "WATTBUS_SHELLY_GENERATION": "1"},
            "WATTBUS_SHELLY_SOURCE mqtt reads Gen2+ devices only, not generation 1",
        ),
        (
            {"WATTBUS_SHELLY_SOURCE": "mqtt", "WATTBUS_SHELLY_MQTT_PREFIX": "shelly/#"},
            "WATTBUS_SHELLY_MQTT_PREFIX Input should be topic levels joined by '/': no '+', "
            "'#', spaces or empty levels, and no leading '$'",
        ),
    ],
)
def test_settings_that_cannot_work_exit_2_with_one_line(
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    line: str,
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)

    assert run_service("shelly") == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"wattbus: shelly: {line}"]
