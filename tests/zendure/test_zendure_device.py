"""The bridge's device adapter: commands in the order a user would expect, and a hold never
saving values wattbus itself wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from wattbus.discovery import device_config
from wattbus.models import BatteryCommand
from wattbus.topics import Topics
from wattbus_simulator.fake_zendure import ZendureState
from wattbus_zendure.client import SolarFlow
from wattbus_zendure.hold import Holder
from wattbus_zendure.service import ENTITIES, ZendureDevice

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


async def test_a_poll_taken_while_held_is_never_saved_as_the_prior(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    device = ZendureDevice("zendure", flow, Holder(flow, hold_file), lease=60)
    await device.read(at(0))
    await device.apply(BatteryCommand(hold=True), at(0.1))
    held = await device.read(at(0.2))  # this poll sees minSoc 100 %
    assert held.min_soc == 100.0
    await device.apply(BatteryCommand(hold=False), at(0.3))
    await device.apply(BatteryCommand(hold=True), at(0.4))  # no poll in between
    assert device.holder.saved is not None
    assert device.holder.saved.min_soc == 15.0
    await device.apply(BatteryCommand(hold=False), at(0.5))
    assert state.properties["minSoc"] == 150


async def test_settings_and_hold_in_one_command_save_the_new_settings(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    device = ZendureDevice("zendure", flow, Holder(flow, hold_file), lease=60)
    await device.read(at(0))
    note = await device.apply(BatteryCommand(min_soc=20, hold=True), at(0.1))
    assert "applied" in note and "held via min_soc" in note
    await device.apply(BatteryCommand(hold=False), at(1))
    assert state.properties["minSoc"] == 200


async def test_a_hold_by_output_limit_in_ac_input_mode_is_written_once(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.min_soc_above_50 = "ignored"
    state.properties["acMode"] = 1  # charging from AC
    device = ZendureDevice("zendure", flow, Holder(flow, hold_file), lease=60)
    await device.read(at(0))
    note = await device.apply(BatteryCommand(hold=True), at(0.1))
    assert "held via output_limit" in note
    writes = len(state.writes)
    for poll in range(1, 10):
        held = await device.read(at(poll * 2))
        assert held.hold and held.output_limit == 0
    assert len(state.writes) == writes


async def test_home_assistant_gets_the_units_name_and_the_ranges_it_accepts(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    """Named "Zendure zendure" before, Home Assistant repeated the id in every entity's name;
    its min SoC went to 100 % although the bridge refuses more than zenSDK's 50 %."""
    device = ZendureDevice("zendure-garage", flow, Holder(flow, hold_file), lease=60)
    await device.read(at(0))
    config = device_config(Topics(), device.info, ENTITIES)
    assert config["dev"]["name"] == "Zendure SolarFlow 2400 AC"  # the fake's solarFlow2400AC
    assert config["cmps"]["min_soc"]["max"] == 50
    assert config["cmps"]["output_limit"]["max"] == 2400


async def test_the_answer_to_a_release_says_what_the_battery_has_back(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.properties.update(minSoc=150, outputLimit=800, smartMode=0)
    device = ZendureDevice("zendure", flow, Holder(flow, hold_file), lease=60)
    await device.read(at(0))
    await device.apply(BatteryCommand(hold=True), at(1))
    note = await device.apply(BatteryCommand(hold=False), at(2))
    assert note == "release: restored min_soc 15 %, output_limit 800 W, smartMode 0"


async def test_the_owner_may_name_the_unit(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    device = ZendureDevice("zendure-garage", flow, Holder(flow, hold_file), 60, "Garage battery")
    await device.read(at(0))
    assert device.info.name == "Garage battery"
