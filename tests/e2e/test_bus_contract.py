"""The bus contract as a client sees it: bad input is answered and changes nothing, each
bridge's credentials reach only its own topics, discovery comes back when Home Assistant does,
availability follows the device."""

from __future__ import annotations

import aiomqtt
import pytest
from support.broker import password
from support.home import Home
from support.mqtt import observer

GARBAGE = [
    ("wattbus/zendure/set", b"not json"),
    ("wattbus/zendure/set", b"[1, 2]"),
    ("wattbus/zendure/set", b'{"min_soc": 150}'),
    ("wattbus/zendure/set", b'{"hold": "maybe"}'),
    ("wattbus/zendure/set", b'{"colour": "red"}'),
    ("wattbus/zendure/set", b"{}"),
    ("wattbus/zendure/set", b'{"lease": 30}'),
    ("wattbus/zendure/set", b"\xff\xfe"),
    ("wattbus/zendure/set/min_soc", b"abc"),
    ("wattbus/zendure/set/output_limit", b"-5"),
    ("wattbus/zendure/set/soc", b"50"),
    ("wattbus/zendure/set/id", b"x"),
    ("wattbus/grid-meter/set", b'{"power": 0}'),
    ("wattbus/grid-meter/set/power", b"0"),
    ("wattbus/controller/set", b'{"mode": "fast"}'),
    ("wattbus/controller/set/mode", b"fast"),
    ("wattbus/controller/set/threshold", b"-100"),
    ("wattbus/controller/set/confirm", b"nan"),
    ("wattbus/controller/set", b"null"),
]


async def test_garbage_on_every_set_topic_is_rejected_and_changes_nothing(home: Home) -> None:
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        await obs.wait_for("wattbus/zendure/state")
        await obs.wait_for("wattbus/controller/state")
        await obs.wait_for("wattbus/grid-meter/state")
        settings = ("minSoc", "outputLimit", "inputLimit", "socSet", "acMode", "smartMode")
        before = {k: home.props()[k] for k in settings}
        for topic, payload in GARBAGE:
            mark = obs.mark()
            await obs.publish(topic, payload)
            device = topic.split("/")[1]
            answer = await obs.wait_for(f"wattbus/{device}/event", after=mark)
            assert answer.json["kind"] == "rejected", (topic, payload, answer.json)
            assert answer.json["reason"]
        assert home.zendure.state.writes == []
        assert {k: home.props()[k] for k in settings} == before
        # and a log line for each, as the README says: the topic and the reason
        logs = {
            name: home.procs[name].log.read_text() for name in ("shelly", "zendure", "controller")
        }
        for topic in {t for t, _ in GARBAGE}:
            service = {"grid-meter": "shelly"}.get(topic.split("/")[1], topic.split("/")[1])
            sent = sum(t == topic for t, _ in GARBAGE)
            assert logs[service].count(f"rejected {topic}: ") == sent, (topic, logs[service])
        # every process is still alive and serving
        mark = obs.mark()
        await obs.publish("wattbus/zendure/set", {"min_soc": 20, "id": "after-garbage"})
        ok = await obs.wait_for(
            "wattbus/zendure/event", lambda m: m.json.get("id") == "after-garbage", after=mark
        )
        assert ok.json["kind"] == "applied"
        assert home.props()["minSoc"] == 200
        assert all(p.alive() for p in home.procs.values())


async def test_a_rejected_json_command_echoes_its_id(home: Home) -> None:
    async with observer(home.broker) as obs:
        home.service("zendure")
        await obs.wait_for("wattbus/zendure/state")
        await obs.publish("wattbus/zendure/set", {"min_soc": 101, "id": "c-7"})
        answer = await obs.wait_for("wattbus/zendure/event", lambda m: m.json.get("id") == "c-7")
        assert answer.json["kind"] == "rejected"
        assert "min_soc" in answer.json["reason"]


@pytest.mark.parametrize("text", ["ON", "true", "on"])
async def test_a_plain_on_or_true_on_set_hold_holds_and_off_releases(home: Home, text: str) -> None:
    """The plain spellings Node-RED and mosquitto_pub send (and Home Assistant's switches did)."""
    async with observer(home.broker) as obs:
        home.service("zendure")
        await obs.wait_for("wattbus/zendure/state")
        await obs.publish("wattbus/zendure/set/hold", text)
        held = await obs.wait_for("wattbus/zendure/state", lambda m: m.json.get("hold") is True)
        assert held.json["min_soc"] == 100.0
        mark = obs.mark()
        await obs.publish("wattbus/zendure/set/hold", "OFF")
        await obs.wait_for("wattbus/zendure/state", lambda m: m.json["hold"] is False, after=mark)
        assert home.props()["minSoc"] == 150


async def test_a_bridge_cannot_write_another_devices_topics(home: Home) -> None:
    async with observer(home.broker) as obs:
        home.service("zendure")
        await obs.wait_for("wattbus/zendure/state")
        async with aiomqtt.Client(
            "127.0.0.1", home.broker.port, username="grid-meter", password=password("grid-meter")
        ) as meter:
            attempts = [
                ("wattbus/zendure/set", b'{"hold": true}'),
                ("wattbus/zendure/set/min_soc", b"50"),
                ("wattbus/zendure/state", b'{"soc": 1}'),
                ("wattbus/controller/set/mode", b"pause"),
                ("homeassistant/device/zendure/config", b"{}"),
            ]
            for topic, payload in attempts:
                await meter.publish(topic, payload, qos=1)
            # one allowed message last: MQTT keeps one client's order, so once it has
            # arrived, anything the broker had let through before it would have arrived too
            await meter.publish("wattbus/grid-meter/event", "sync", qos=1)
            await obs.wait_for("wattbus/grid-meter/event")
        assert [m for m in obs.messages if (m.topic, m.payload) in attempts] == []
        assert home.zendure.state.writes == []


async def test_anonymous_clients_are_refused(home: Home) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with aiomqtt.Client("127.0.0.1", home.broker.port) as anon:
            await anon.publish("wattbus/zendure/set", '{"hold": true}')


async def test_discovery_is_sent_again_when_home_assistant_comes_online(home: Home) -> None:
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        for device in ("grid-meter", "zendure", "controller"):
            config = await obs.wait_for(f"homeassistant/device/{device}/config")
            assert config.json["state_topic"] == f"wattbus/{device}/state"
        zendure = (await obs.wait_for("homeassistant/device/zendure/config")).json
        assert zendure["cmps"]["held"]["default_entity_id"] == "binary_sensor.zendure_held"
        assert "command_topic" not in zendure["cmps"]["held"]  # the controller owns holds
        assert zendure["cmps"]["soc"]["device_class"] == "battery"
        meter = (await obs.wait_for("homeassistant/device/grid-meter/config")).json
        assert meter["cmps"]["energy_import"]["state_class"] == "total_increasing"
        assert meter["dev"]["manufacturer"] == "Shelly"
        mark = obs.mark()
        await obs.publish("homeassistant/status", "online")
        for device in ("grid-meter", "zendure", "controller"):
            await obs.wait_for(f"homeassistant/device/{device}/config", after=mark)
            await obs.wait_for(f"wattbus/{device}/state", after=mark)


async def test_stale_discovery_entities_are_removed(home: Home) -> None:
    async with observer(home.broker) as obs:
        old = {
            "dev": {"identifiers": ["wattbus_zendure"]},
            "cmps": {
                "soc": {"p": "sensor", "name": "State of charge"},
                "ghost": {"p": "sensor", "name": "Removed in this release"},
            },
        }
        async with aiomqtt.Client(
            "127.0.0.1", home.broker.port, username="zendure", password=password("zendure")
        ) as bridge:
            await bridge.publish(
                "homeassistant/device/zendure/config",
                str(old).replace("'", '"'),
                qos=1,
                retain=True,
            )
        home.service("zendure")
        cleared = await obs.wait_for(
            "homeassistant/device/zendure/config",
            lambda m: m.json.get("cmps", {}).get("ghost") == {"p": "sensor"},
        )
        assert "soc" in cleared.json["cmps"]


async def test_meter_availability_follows_the_device(home: Home) -> None:
    async with observer(home.broker) as obs:
        home.service("shelly")
        await obs.wait_for("wattbus/grid-meter/availability", lambda m: m.text == "online")
        mark = obs.mark()
        home.shelly.faults.status_500 = True
        await obs.wait_for(
            "wattbus/grid-meter/availability", lambda m: m.text == "offline", after=mark
        )
        error = await obs.wait_for("wattbus/grid-meter/event", after=mark)
        assert error.json["kind"] == "error"
        mark = obs.mark()
        home.shelly.faults.status_500 = False
        await obs.wait_for(
            "wattbus/grid-meter/availability", lambda m: m.text == "online", after=mark
        )
        await obs.wait_for("wattbus/grid-meter/state", after=mark)


async def test_a_bad_state_is_reported_once_and_ignored(home: Home) -> None:
    async with observer(home.broker) as obs:
        home.service("controller")
        await obs.wait_for("wattbus/controller/state")
        async with aiomqtt.Client(
            "127.0.0.1", home.broker.port, username="grid-meter", password=password("grid-meter")
        ) as meter:
            for _ in range(3):
                await meter.publish("wattbus/grid-meter/state", '{"power": "lots"}', qos=1)
            await meter.publish("wattbus/grid-meter/event", "sync", qos=1)
            await obs.wait_for("wattbus/grid-meter/event")
            errors = await obs.wait_for("wattbus/controller/event")
            assert errors.json["kind"] == "error"
            assert errors.json["topic"] == "wattbus/grid-meter/state"
        # the controller answers this after the three bad states: its answer closes the count
        await obs.publish("wattbus/controller/set", {"mode": "auto", "id": "sync"})
        await obs.wait_for("wattbus/controller/event", lambda m: m.json.get("id") == "sync")
        assert home.procs["controller"].alive()
        reports = [
            m for m in obs.messages
            if m.topic == "wattbus/controller/event" and m.json["kind"] == "error"
        ]  # fmt: skip
        assert len(reports) == 1
