"""The EV guard end to end: real processes, real Mosquitto with users and ACL, fake devices."""

from __future__ import annotations

from support.home import LEASE, Home, battery_held, battery_released
from support.mqtt import observer

STATE = "wattbus/zendure/state"


async def test_ev_session_holds_and_restores_exact_settings(home: Home) -> None:
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        await obs.wait_for(STATE, lambda m: m.json["min_soc"] == 15.0)
        home.set_house_power(9000)
        held = await obs.wait_for(STATE, battery_held)
        assert held.json["hold_route"] == "min_soc"
        assert home.props()["minSoc"] == 1000
        ctl = await obs.wait_for("wattbus/controller/state", lambda m: m.json["ev_charging"])
        assert ctl.json["holding"] == ["zendure"]

        home.set_house_power(600)
        mark = obs.mark()
        await obs.wait_for(STATE, battery_released, after=mark)
        assert home.props()["minSoc"] == 150
        assert home.props()["outputLimit"] == 800
        assert home.zendure.state.flash_writes == 0
        assert home.min_soc_writes() == [1000, 150]  # one hold, one restore, nothing twice


async def test_controller_killed_mid_hold_the_lease_restores(home: Home) -> None:
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        home.set_house_power(9000)
        await obs.wait_for(STATE, battery_held)
        mark = obs.mark()
        home.procs["controller"].kill()
        gone = await obs.wait_for("wattbus/controller/availability", after=mark)
        assert gone.text == "offline"  # the last will
        released = await obs.wait_for(STATE, battery_released, after=mark, within=LEASE + 10)
        assert released.json["min_soc"] == 15.0
        assert home.props()["minSoc"] == 150
        assert home.props()["outputLimit"] == 800


async def test_controller_restart_mid_session_neither_forgets_nor_restores_twice(
    home: Home,
) -> None:
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        home.set_house_power(9000)
        await obs.wait_for(STATE, battery_held)
        home.procs["controller"].stop()
        mark = obs.mark()
        home.service("controller")
        await obs.wait_for(
            "wattbus/controller/state",
            lambda m: m.json["ev_charging"] and m.json["holding"] == ["zendure"],
            after=mark,
        )
        # it renews the hold it remembers rather than starting a new one
        renewal = await obs.wait_for(
            "wattbus/zendure/event", lambda m: m.json.get("kind") == "applied", after=mark
        )
        assert "held via min_soc" in renewal.json["reason"]
        home.set_house_power(600)
        await obs.wait_for(STATE, battery_released, after=obs.mark())
        assert home.min_soc_writes() == [1000, 150]


async def test_bridge_restart_mid_hold_keeps_the_saved_settings(home: Home) -> None:
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        home.set_house_power(9000)
        await obs.wait_for(STATE, battery_held)
        home.procs["zendure"].kill()
        mark = obs.mark()
        home.service("zendure")
        resumed = await obs.wait_for(STATE, battery_held, after=mark)
        assert resumed.json["min_soc"] == 100.0
        home.set_house_power(600)
        await obs.wait_for(STATE, battery_released, after=obs.mark())
        assert home.props()["minSoc"] == 150  # not the held 1000 it found after the restart


async def test_broker_restart_mid_session_converges(home: Home) -> None:
    for name in ("shelly", "zendure", "controller"):
        home.service(name)
    async with observer(home.broker) as obs:
        home.set_house_power(9000)
        await obs.wait_for(STATE, battery_held)
    home.broker.stop()
    home.broker.start()  # same port, no persistence: every retained message is gone
    async with observer(home.broker) as obs:
        await obs.wait_for(STATE, battery_held)
        await obs.wait_for("wattbus/grid-meter/availability", lambda m: m.text == "online")
        await obs.wait_for("wattbus/controller/state", lambda m: m.json["ev_charging"])
        await obs.wait_for("homeassistant/device/zendure/config")
    async with observer(home.broker) as late:  # what a client connecting now finds retained
        await late.wait_for("homeassistant/device/zendure/config", lambda m: m.retain)
        await late.wait_for(STATE, lambda m: m.retain and battery_held(m))
    async with observer(home.broker) as obs:
        home.set_house_power(600)
        await obs.wait_for(STATE, battery_released, after=obs.mark())
    assert home.props()["minSoc"] == 150


async def test_manual_pause_and_resume_from_the_bus(home: Home) -> None:
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        await obs.wait_for("wattbus/controller/state")
        await obs.publish("wattbus/controller/set/mode", "pause")
        held = await obs.wait_for(STATE, battery_held)
        assert held.json["min_soc"] == 100.0
        await obs.publish("wattbus/controller/set", {"mode": "resume", "id": "r1"})
        answer = await obs.wait_for("wattbus/controller/event", lambda m: m.json.get("id") == "r1")
        assert answer.json["kind"] == "applied"
        await obs.wait_for(STATE, battery_released, after=obs.mark())
        assert home.props()["minSoc"] == 150
