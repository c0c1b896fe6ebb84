"""Commands through the broker: checked before anything is sent, carried to the fake charger,
and answered `applied` only once the charger's own topics show the change; what it silently
ignores is `rejected` after the read-back time. The passthrough is the bridge's own setting,
saved so that it outlives a restart."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from support.mqtt import Msg
from wattbus.bus import Bus
from wattbus_simulator.fake_smartevse import SmartEvse
from wattbus_smartevse.commands import PassthroughSetting
from wattbus_smartevse.passthrough import Passthrough
from wattbus_smartevse.readback import READ_BACK
from wattbus_smartevse.service import SmartEVSEBridge

from .conftest import BATTERY, EVENTS, FEED, PREFIX, SET, STATE, MakeRig, Rig


async def command(rig: Rig, payload: dict[str, Any] | bytes, field: str | None = None) -> Msg:
    """Send on `set` (or `set/<field>`) and return the answer."""
    mark = rig.obs.mark()
    topic = SET if field is None else f"{SET}/{field}"
    await rig.obs.publish(topic, payload)
    return await rig.obs.wait_for(EVENTS, lambda m: m.json.get("topic") == topic, after=mark)


def answer_at(rig: Rig, answer: Msg) -> int:
    return rig.obs.messages.index(answer)


async def ready(rig: Rig) -> None:
    """The charger's state is mirrored."""
    await rig.obs.wait_for(STATE)


async def test_a_mode_is_applied_once_the_charger_shows_it(make_rig: MakeRig) -> None:
    rig = await make_rig(evse=SmartEvse(mode="Normal"))
    await ready(rig)
    answer = await command(rig, {"mode": "solar", "id": "m1"})
    assert answer.json["kind"] == "applied"
    assert answer.json["id"] == "m1"
    assert answer.json["command"] == {"mode": "solar"}
    assert answer.json["reason"] == "the charger shows mode solar"
    assert rig.charger.evse.mode == "Solar"
    assert [m.text for m in rig.obs.messages if m.topic == f"{PREFIX}/Set/Mode"] == ["Solar"]
    await rig.obs.wait_for(STATE, lambda m: m.json["mode"] == "solar", after=answer_at(rig, answer))


async def test_a_plain_value_on_set_field(make_rig: MakeRig) -> None:
    rig = await make_rig(evse=SmartEvse(mode="Smart", max_sum_mains=0))
    await ready(rig)
    answer = await command(rig, b"25", "max_sum_mains")
    assert answer.json["kind"] == "applied"
    assert rig.charger.evse.max_sum_mains == 25
    await rig.obs.wait_for(
        FEED, lambda m: m.json.get("max_sum_mains") == 25, after=answer_at(rig, answer)
    )


async def test_an_override_and_the_mode_it_needs_in_one_command(make_rig: MakeRig) -> None:
    rig = await make_rig(evse=SmartEvse(mode="Solar", max_current=16))
    await ready(rig)
    answer = await command(rig, {"mode": "normal", "current_override": 10})
    assert answer.json["kind"] == "applied", answer.json
    assert rig.charger.evse.override == 100
    await rig.obs.wait_for(STATE, lambda m: m.json.get("current_override") == 10.0)


async def test_an_override_in_solar_mode_is_refused_and_nothing_is_sent(make_rig: MakeRig) -> None:
    rig = await make_rig(evse=SmartEvse(mode="Solar"))
    await ready(rig)
    answer = await command(rig, {"current_override": 10, "id": 7})
    assert answer.json["kind"] == "rejected"
    assert answer.json["id"] == 7
    assert answer.json["reason"] == (
        "current_override: the charger takes one only in normal or smart mode, not solar"
    )
    assert not [m for m in rig.obs.messages if m.topic.startswith(f"{PREFIX}/Set/")]


async def test_what_the_charger_ignores_is_rejected_after_the_read_back_time(
    make_rig: MakeRig,
) -> None:
    """The fake's MinCurrent is 8 A, which the firmware never publishes: 7 A passes the check
    and is ignored by the charger, as its firmware would."""
    rig = await make_rig(evse=SmartEvse(mode="Normal", min_current=8))
    await ready(rig)
    mark = rig.obs.mark()
    await rig.obs.publish(SET, {"current_override": 7, "id": "low"})
    sent = await rig.obs.wait_for(f"{PREFIX}/Set/CurrentOverride", after=mark)
    await rig.taken(sent)
    assert rig.charger.received[-1].why == "outside MinCurrent..MaxCurrent"
    await rig.barrier()
    assert not [m for m in rig.obs.messages[mark:] if m.topic == EVENTS and m.json.get("id")]
    rig.clock.advance(READ_BACK.total_seconds())
    answer = await rig.obs.wait_for(EVENTS, lambda m: m.json.get("id") == "low", after=mark)
    assert answer.json["kind"] == "rejected"
    assert answer.json["reason"] == (
        "the charger did not take it: current_override (ChargeCurrentOverride is 0)"
    )


async def test_a_command_to_an_offline_charger_is_refused(make_rig: MakeRig) -> None:
    rig = await make_rig()
    await ready(rig)
    mark = rig.obs.mark()
    await rig.charger.stop()
    await rig.obs.wait_for("wattbus/smartevse/availability", lambda m: m.text == "offline",
                           after=mark)  # fmt: skip
    answer = await command(rig, {"mode": "solar"})
    assert (answer.json["kind"], answer.json["reason"]) == ("rejected", "the charger is offline")


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        (b"not json", None, "payload is not JSON"),
        ({"current_override": True}, None, "current_override: Input should be a number, not a"),
        ({"mode": None, "max_sum_mains": 25}, None, "mode: null sets nothing"),
        ({"speed": 3}, None, "speed: Extra inputs are not permitted"),
        (b"true", "current_override", "current_override: Input should be a number"),
        (b"Solar", "mode", "mode: Input should be"),
        (b"3", "phases", "unknown field 'phases'; known: mode, current_override"),
        (b"reserve", "passthrough", "passthrough reserve needs a reserve, in A"),
    ],
)
async def test_a_bad_command_is_rejected_and_the_bridge_goes_on(
    make_rig: MakeRig, payload: dict[str, Any] | bytes, field: str | None, reason: str
) -> None:
    rig = await make_rig(evse=SmartEvse(mode="Normal"), battery="zendure")
    await ready(rig)
    answer = await command(rig, payload, field)
    assert answer.json["kind"] == "rejected"
    assert answer.json["reason"].startswith(reason), answer.json["reason"]
    assert not [m for m in rig.obs.messages if m.topic.startswith(f"{PREFIX}/Set/")]
    assert (await command(rig, {"mode": "smart"})).json["kind"] == "applied"


async def test_the_passthrough_set_at_run_time_outlives_a_restart(
    make_rig: MakeRig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await make_rig(battery="zendure")
    answer = await command(rig, {"passthrough": "reserve", "reserve": 4})
    assert answer.json["kind"] == "applied"
    await rig.obs.wait_for(FEED, lambda m: m.json["passthrough"] == "reserve")
    await rig.battery_state(2300.0)
    assert (await rig.obs.wait_for(BATTERY)).text == "60"  # 10 A charging, 4 A reserved

    # the bridge after a restart, on the same folder (not connected: one login, one client)
    caplog.set_level(logging.WARNING, "wattbus_smartevse.service")
    settings = rig.bridge.settings
    again = SmartEVSEBridge(Bus(rig.bridge.bus.settings, settings.id), settings)
    assert again.passthrough == PassthroughSetting(Passthrough.RESERVE, 4.0)
    assert caplog.messages == [
        "passthrough reserve saved at run time overrides WATTBUS_SMARTEVSE_PASSTHROUGH=as_is",
        "reserve 4 A saved at run time overrides WATTBUS_SMARTEVSE_RESERVE=",
    ]

    mark = rig.obs.mark()
    reset = await command(rig, {"reset": True})
    assert reset.json["kind"] == "applied"
    await rig.obs.wait_for(FEED, lambda m: m.json["passthrough"] == "as_is", after=mark)
    assert (tmp_path / "state" / "smartevse.json").read_text() == "{}"
