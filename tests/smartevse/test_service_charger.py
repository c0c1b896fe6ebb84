"""The charger's own topics through the broker: mirrored as `wattbus/<id>/state` in wattbus
units, its availability following `<prefix>/connected`, garbage ignored and logged once; the
bridge's entities on the charger's own Home Assistant device; and the broker's ACL, which lets
the bridge read its charger and write only its `Set/` topics."""

from __future__ import annotations

import asyncio
import logging

import pytest
from support.broker import Broker
from support.mqtt import observer
from wattbus.models import ChargerState
from wattbus_simulator.fake_smartevse import SmartEvse

from .conftest import (
    AVAILABILITY,
    BRIDGE_USER,
    CHARGER_USER,
    PREFIX,
    STATE,
    MakeRig,
    client,
)


async def test_the_chargers_topics_become_its_state_in_wattbus_units(
    own_broker: Broker, make_rig: MakeRig
) -> None:
    rig = await make_rig(evse=SmartEvse(mode="Normal", max_current=16, min_current=6))
    await rig.obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
    await rig.charger.plug(True)
    # each topic as it comes: the state is whole once the charger's publication is
    await rig.obs.wait_for(STATE, lambda m: m.json["charging"] and m.json.get("plugged"))
    async with observer(own_broker, "cli") as later:
        msg = await later.wait_for(STATE, lambda m: m.retain)
    state = ChargerState.model_validate_json(msg.payload)  # as the controller reads it
    assert state.model_dump(exclude_none=True, exclude={"ts"}) == {
        "charging": True, "plugged": True, "power": 11040.0, "current": 16.0,
        "max_current": 16.0, "phases": 3, "session_energy": 0.0, "total_energy": 0.0,
        "mode": "normal", "access": "allow",
    }  # fmt: skip
    assert state.ts == rig.clock.now()


async def test_availability_follows_the_chargers_connection(make_rig: MakeRig) -> None:
    rig = await make_rig()
    await rig.obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
    mark = rig.obs.mark()
    await rig.charger.stop()
    offline = await rig.obs.wait_for(AVAILABILITY, after=mark)
    assert offline.text == "offline"
    await rig.charger.start()
    await rig.obs.wait_for(AVAILABILITY, lambda m: m.text == "online", after=mark)


async def test_a_quiet_connected_charger_stays_fresh_at_the_heartbeat(
    make_rig: MakeRig,
) -> None:
    """The dingo firmware publishes only on change by default, with a 60 s heartbeat: a
    connected charger that says nothing has not changed, and its state must not look stale
    to the controller (30 s) in between."""
    rig = await make_rig(heartbeat=10)
    await rig.obs.wait_for(STATE)
    await rig.barrier()  # nothing else that could wake the bridge is on its way
    last = [m for m in rig.obs.messages if m.topic == STATE][-1]
    mark = rig.obs.mark()
    rig.clock.advance(40)  # past the controller's 30 s, with no word from the charger
    again = await rig.obs.wait_for(STATE, after=mark)
    assert ChargerState.model_validate_json(again.payload).ts == rig.clock.now()
    assert {**again.json, "ts": None} == {**last.json, "ts": None}


async def test_garbage_from_the_charger_is_ignored_and_logged_once_per_topic(
    own_broker: Broker, make_rig: MakeRig, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await make_rig(evse=SmartEvse(mode="Normal", max_current=16))
    await rig.obs.wait_for(STATE, lambda m: m.json.get("current") == 16.0)
    caplog.set_level(logging.WARNING, "wattbus_smartevse.service")
    async with client(own_broker, CHARGER_USER) as charger:  # the fake's own login
        # the broker lets one connection per user: the fake's is pushed off and back
        for _ in range(3):
            await charger.publish(f"{PREFIX}/ChargeCurrent", "sixteen", qos=1)
        await rig.barrier()
        garbage = [r for r in caplog.records if "ChargeCurrent" in r.getMessage()]
        assert len(garbage) == 1
        assert "'sixteen' is not a whole number" in garbage[0].getMessage()
        mark = rig.obs.mark()
        await charger.publish(f"{PREFIX}/ChargeCurrent", "100", qos=1)
        await rig.obs.wait_for(STATE, lambda m: m.json.get("current") == 10.0, after=mark)
    states = [m.json for m in rig.obs.messages if m.topic == STATE]
    assert all(s.get("current") in (16.0, 10.0) for s in states)  # the garbage never showed


async def test_the_bridges_entities_go_on_the_chargers_own_device(make_rig: MakeRig) -> None:
    rig = await make_rig()
    firmware = await rig.obs.wait_for(f"homeassistant/select/{PREFIX}-Mode/config")
    ours = await rig.obs.wait_for("homeassistant/device/smartevse/config")
    assert ours.json["dev"]["identifiers"] == [firmware.json["device"]["identifiers"]]
    assert ours.json["dev"]["name"] == firmware.json["device"]["name"]
    assert ours.json["state_topic"] == "wattbus/smartevse/feed"
    cmps = ours.json["cmps"]
    assert set(cmps) == {
        "feed_active", "last_feed", "meter", "split", "passthrough", "reserve",
        "passthrough_current",
    }  # fmt: skip
    assert cmps["passthrough"]["command_topic"] == "wattbus/smartevse/set/passthrough"
    assert cmps["passthrough"]["options"] == ["as_is", "discharge_only", "reserve"]
    assert cmps["last_feed"]["device_class"] == "timestamp"
    for c in cmps.values():  # none of the charger's own entities again
        assert c["unique_id"].startswith("wattbus_smartevse_")


async def test_home_assistant_coming_online_gets_discovery_and_states_again(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig()
    await rig.obs.wait_for(STATE)
    mark = rig.obs.mark()
    await rig.obs.publish("homeassistant/status", b"online")
    await rig.obs.wait_for("homeassistant/device/smartevse/config", after=mark)
    await rig.obs.wait_for(STATE, after=mark)
    await rig.obs.wait_for("wattbus/smartevse/feed", after=mark)


# --- the broker's ACL for the bridge's user ----------------------------------------------------


async def test_the_bridge_reads_its_charger_and_writes_only_its_set_topics(
    own_broker: Broker,
) -> None:
    async with observer(own_broker, "homeassistant") as ha, client(own_broker, BRIDGE_USER) as c:
        got: list[str] = []
        await c.subscribe(f"{PREFIX}/#", qos=1)
        await c.subscribe("wattbus/grid-meter/state", qos=1)
        async with observer(own_broker, CHARGER_USER) as fake:
            await fake.client.publish(f"{PREFIX}/Mode", "Smart", qos=1, retain=True)
        async with observer(own_broker, "grid-meter") as meter:
            await meter.client.publish("wattbus/grid-meter/state", b"{}", qos=1, retain=True)
        allowed = f"{PREFIX}/Set/Mode"
        refused = (f"{PREFIX}/Mode", "SmartEVSE/carport/Set/Mode", "wattbus/grid-meter/state")
        for topic in (*refused, allowed):
            await c.publish(topic, "Normal", qos=1)
        await ha.wait_for(allowed)
        async with asyncio.timeout(5):
            async for m in c.messages:
                got.append(str(m.topic))
                if len(got) == 3:
                    break
        assert set(got) == {f"{PREFIX}/Mode", allowed, "wattbus/grid-meter/state"}
        # what was refused never reached anyone; `allowed` came after it on one connection
        seen = [m.topic for m in ha.messages if m.payload == b"Normal"]
        assert seen == [allowed]
