"""The client against the fake over real HTTP: units, signs, scaling, write bodies, failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState, start_fake_zendure
from wattbus_zendure.client import SolarFlow
from wattbus_zendure.exceptions import (
    DeviceConnectionError,
    DeviceRefusedError,
    DeviceResponseError,
    DeviceTimeoutError,
)

TS = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


async def test_report_fields_and_units(state: ZendureState, flow: SolarFlow) -> None:
    state.properties.update(
        electricLevel=97,
        minSoc=50,
        socSet=1000,
        outputLimit=800,
        inputLimit=400,
        acMode=2,
        solarInputPower=123,
        outputHomePower=799,
        gridInputPower=0,
    )
    report = await flow.report()
    battery = report.battery_state(TS)
    assert report.sn == state.sn
    assert report.product == "solarFlow2400AC"
    assert battery.ts == TS
    assert battery.soc == 97
    assert battery.min_soc == 5.0  # 50 tenths of a percent
    assert battery.soc_set == 100.0
    assert battery.output_limit == 800
    assert battery.input_limit == 400
    assert battery.mode == "output"
    assert battery.pv_power == 123
    assert battery.output_home_power == 799
    assert battery.grid_input_power == 0
    assert battery.hold is False


async def test_battery_sign_discharging_is_negative(state: ZendureState, flow: SolarFlow) -> None:
    state.properties.update(packInputPower=676, outputPackPower=0, packState=2)
    assert (await flow.report()).battery_state(TS).power == -676


async def test_battery_sign_charging_is_positive(state: ZendureState, flow: SolarFlow) -> None:
    state.properties.update(packInputPower=0, outputPackPower=1200, packState=1, acMode=1)
    battery = (await flow.report()).battery_state(TS)
    assert battery.power == 1200
    assert battery.mode == "input"


async def test_pack_current_and_temperature(state: ZendureState, flow: SolarFlow) -> None:
    state.packs[0].update(batcur=65387, maxTemp=3091, totalVol=4980)
    (pack,) = (await flow.report()).packs
    assert pack.current == pytest.approx(-14.9)
    assert pack.max_temp_celsius == pytest.approx(36.0)


async def test_unknown_fields_ignored_and_optional_ones_missing(
    state: ZendureState, flow: SolarFlow
) -> None:
    state.properties["someFutureField"] = 7
    del state.properties["solarInputPower"]
    del state.properties["acMode"]
    battery = (await flow.report()).battery_state(TS)
    assert battery.pv_power is None
    assert battery.mode is None


async def test_household_measurements_read_back_with_wattbus_signs(
    state: ZendureState, flow: SolarFlow
) -> None:
    state.set_measurements(soc=55, battery_power=-742, home_power=730)
    report = await flow.report()
    assert report.battery_state(TS).power == -742
    assert report.properties.pack_input_power == 742
    assert report.packs[0].current is not None and report.packs[0].current < 0


async def test_write_carries_sn_id_and_smart_mode_1(state: ZendureState, flow: SolarFlow) -> None:
    await flow.set_output_limit(300)
    await flow.set_min_soc(12.5)
    assert state.writes == [
        {"sn": state.sn, "id": 1, "properties": {"smartMode": 1, "outputLimit": 300}},
        {"sn": state.sn, "id": 2, "properties": {"smartMode": 1, "minSoc": 125}},
    ]
    assert state.properties["outputLimit"] == 300
    assert state.properties["minSoc"] == 125
    assert state.flash_writes == 0


async def test_first_write_learns_sn_from_a_report(state: ZendureState, flow: SolarFlow) -> None:
    assert flow.sn is None
    await flow.write({"inputLimit": 500})
    assert flow.sn == state.sn
    assert state.writes[0]["sn"] == state.sn
    assert state.properties["inputLimit"] == 500


async def test_client_refuses_flash_writes_and_non_integers(flow: SolarFlow) -> None:
    with pytest.raises(ValueError, match="flash"):
        await flow.write({"smartMode": 0, "outputLimit": 100})
    with pytest.raises(ValueError):
        await flow.write({"outputLimit": True})
    with pytest.raises(ValueError):
        await flow.set_min_soc(101)
    with pytest.raises(ValueError):
        await flow.write({"outputLimit": 100}, owners_smart_mode=2)


async def test_only_a_restore_of_the_owners_mode_writes_smart_mode_0(
    state: ZendureState, flow: SolarFlow
) -> None:
    await flow.write_settings(min_soc=15, output_limit=800, owners_smart_mode=0)
    assert state.writes[-1]["properties"] == {"smartMode": 0, "minSoc": 150, "outputLimit": 800}
    assert state.properties["smartMode"] == 0
    assert state.flash_writes == 1
    await flow.write_settings(output_limit=700, owners_smart_mode=1)
    await flow.set_output_limit(600)
    assert [w["properties"]["smartMode"] for w in state.writes[-2:]] == [1, 1]
    assert state.flash_writes == 1


async def test_refused_write_is_a_refusal(state: ZendureState, flow: SolarFlow) -> None:
    with pytest.raises(DeviceRefusedError) as caught:
        await flow.set_output_limit(5000)  # above inverseMaxPower 2400
    assert caught.value.status == 400
    assert "outputLimit 5000" in str(caught.value)
    assert state.properties["outputLimit"] == 800


async def test_http_500(fake: FakeZendure, flow: SolarFlow) -> None:
    fake.faults.status_500 = True
    with pytest.raises(DeviceResponseError) as caught:
        await flow.report()
    assert caught.value.status == 500
    assert not isinstance(caught.value, DeviceRefusedError)


async def test_malformed_json(fake: FakeZendure, flow: SolarFlow) -> None:
    fake.faults.malformed_json = True
    with pytest.raises(DeviceResponseError):
        await flow.report()


async def test_timeout(fake: FakeZendure) -> None:
    fake.faults.delay = 30.0  # cut short when the fake closes
    async with SolarFlow(fake.host, port=fake.port, timeout=0.2) as flow:
        with pytest.raises(DeviceTimeoutError):
            await flow.report()


async def test_connection_refused() -> None:
    gone = await start_fake_zendure(ZendureState())
    await gone.close()
    async with SolarFlow(gone.host, port=gone.port) as flow:
        with pytest.raises(DeviceConnectionError) as caught:
            await flow.report()
    assert not isinstance(caught.value, DeviceTimeoutError)
