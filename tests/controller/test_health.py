"""The home's health: the pure summary and status line, then the controller publishing
`wattbus/health` on a real broker from what the devices' bridges say (here the test's own
clients, under the bridges' users), with its Home Assistant sensors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.broker import Broker
from support.mqtt import Msg
from wattbus.models import BridgeHealth, HomeHealth
from wattbus_controller.health import Heard, status_line, summary

from .conftest import client, controller_rig

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOME = "wattbus/health"
DISCOVERY = "homeassistant/device/controller/config"


def answered(ago: float = 2.0, failures: int = 0, error: str | None = None) -> BridgeHealth:
    last = T0 - timedelta(seconds=ago)
    return BridgeHealth(ts=T0, last_success=last, failures=failures, error=error)


def test_all_online_and_answering_is_ok() -> None:
    home = summary({"zendure": Heard(True, answered()), "controller": Heard(True)}, T0)
    assert (home.status, home.problems) == ("ok", ())
    assert list(home.devices) == ["controller", "zendure"]
    assert home.devices["zendure"].last_success == T0 - timedelta(seconds=2)


def test_failed_reads_while_online_are_degraded_and_offline_is_a_problem() -> None:
    failing = Heard(True, answered(ago=3, failures=2, error="timed out"))
    home = summary({"zendure": failing, "grid-meter": Heard(True, answered())}, T0)
    assert home.status == "degraded"
    assert home.problems == ("zendure 2 failed read(s): timed out",)
    home = summary({"zendure": failing, "grid-meter": Heard(False, answered(ago=90))}, T0)
    assert home.status == "problem"
    assert home.problems == ("grid-meter offline", "zendure 2 failed read(s): timed out")


def test_a_device_heard_only_by_its_health_word_is_not_counted_online() -> None:
    home = summary({"kasa": Heard(None, answered())}, T0)
    assert home.status == "ok"
    assert "0 of 1 online" in status_line(home)


def test_the_status_line_says_what_is_wrong_and_when_each_device_last_answered() -> None:
    home = summary({
        "zendure": Heard(False, answered(ago=400, failures=5, error="no route to host")),
        "grid-meter": Heard(True, answered(ago=1)),
    }, T0)  # fmt: skip
    assert status_line(home) == (
        "health problem: 1 of 2 online; zendure offline (5 failed read(s): no route to host);"
        " last reads: grid-meter 1 s ago, zendure 7 min ago"
    )


async def test_the_controller_publishes_the_homes_health_as_devices_come_and_go(
    own_broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wattbus_controller.watch")
    async with controller_rig(own_broker, tmp_path, health_interval=0.1) as rig:

        def home(status: str, device: str) -> Callable[[Msg], bool]:
            def pred(m: Msg) -> bool:
                h = HomeHealth.model_validate_json(m.payload)
                return h.status == status and device in h.devices

            return pred

        zendure_health = "wattbus/zendure/health"
        await rig.battery.publish("wattbus/zendure/availability", b"online", retain=True)
        await rig.battery.publish(zendure_health, answered().model_dump_json(), retain=True)
        await rig.obs.wait_for(HOME, home("ok", "zendure"))

        mark = rig.obs.mark()
        failing = answered(failures=1, error="timed out").model_dump_json()
        await rig.battery.publish(zendure_health, failing, retain=True)
        said = await rig.obs.wait_for(HOME, home("degraded", "zendure"), after=mark)
        assert HomeHealth.model_validate_json(said.payload).problems == (
            "zendure 1 failed read(s): timed out",
        )

        mark = rig.obs.mark()
        await rig.battery.publish("wattbus/zendure/availability", b"offline", retain=True)
        await rig.obs.wait_for(HOME, home("problem", "zendure"), after=mark)
        config = await rig.obs.wait_for(DISCOVERY, lambda m: "connected_zendure" in m.json["cmps"])
        sensor = config.json["cmps"]["connected_zendure"]
        assert (sensor["p"], sensor["device_class"], sensor["state_topic"]) == (
            "binary_sensor", "connectivity", HOME
        )  # fmt: skip
        problem = config.json["cmps"]["home_problem"]
        assert (problem["device_class"], problem["state_topic"]) == ("problem", HOME)

        async with client(own_broker, "owner") as owner:  # not a device: its word is denied
            await owner.publish("wattbus/owner/availability", b"offline", qos=1)
        rig.clock.advance(300)
        await rig.obs.wait_for(HOME, lambda m: m.json["ts"].startswith("2026-11-25T18:05"))
        mark = rig.obs.mark()
        await rig.meter.publish("wattbus/grid-meter/availability", b"online", retain=True)
        await rig.obs.wait_for(HOME, home("problem", "grid-meter"), after=mark)
        mark = rig.obs.mark()
        await rig.meter.publish("wattbus/grid-meter/availability", b"", retain=True)  # removed
        gone = await rig.obs.wait_for(HOME, lambda m: "grid-meter" not in m.json["devices"],
                                      after=mark)  # fmt: skip
        assert "zendure" in gone.json["devices"]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("health ")]
    assert lines and lines[-1].startswith("health problem: 1 of 2 online; zendure offline")
    assert not any("owner" in line for line in lines)
