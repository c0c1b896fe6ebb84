"""SolarEdge's registers decoded with plain numbers: scale factors, "not implemented"
sentinels, word order and signs, each as the inverter sends them."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest
from wattbus_solaredge.registers import (
    BATTERY_COUNT,
    BATTERY_START,
    INVERTER_COUNT,
    INVERTER_START,
    METER_COUNT,
    METER_START,
    Battery,
    Inverter,
    RegisterError,
    battery_start,
    battery_state,
    decode_battery,
    decode_inverter,
    decode_meter,
    inverter_state,
    meter_start,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def block(start: int, count: int, values: dict[int, int]) -> list[int]:
    words = [0] * count
    for at, word in values.items():
        words[at - start] = word & 0xFFFF
    return words


def meter(values: dict[int, int]) -> list[int]:
    return block(METER_START, METER_COUNT, {METER_START: 203, **values})


def f32_low_first(value: float) -> tuple[int, int]:
    (raw,) = struct.unpack(">I", struct.pack(">f", value))
    return raw & 0xFFFF, raw >> 16


def test_meter_export_is_negative_grid_power_scaled_by_its_factor() -> None:
    # SolarEdge: +1234.5 W exported, as 12345 x 10^-1; L1 exports, L2 and L3 import
    words = meter({40206: 12345, 40207: 15000, 40208: -1000, 40209: -1655, 40210: -1})
    state = decode_meter(words, NOW)
    assert state.power == -1234.5  # wattbus: import > 0
    assert (state.power_l1, state.power_l2, state.power_l3) == (-1500.0, 100.0, 165.5)


def test_meter_power_with_a_positive_scale_factor() -> None:
    state = decode_meter(meter({40206: -250, 40210: 1}), NOW)
    assert state.power == 2500.0


def test_a_phase_not_implemented_is_missing_not_zero() -> None:
    state = decode_meter(meter({40206: 100, 40207: 100, 40208: 0x8000, 40209: 0, 40210: 0}), NOW)
    assert state.power_l2 is None
    assert state.power_l3 == 0.0  # a real zero stays a zero


@pytest.mark.parametrize("at", [40206, 40210])
def test_a_meter_without_total_power_or_its_factor_is_refused(at: int) -> None:
    with pytest.raises(RegisterError, match="no total power"):
        decode_meter(meter({40206: 100, 40210: 0, at: 0x8000}), NOW)


def test_meter_energy_is_acc32_high_word_first_and_zero_is_missing() -> None:
    # export 0x0001_0002 = 65538 x 10^1 Wh; import not implemented (0)
    words = meter({40206: 0, 40210: 0, 40226: 0x0001, 40227: 0x0002, 40242: 1})
    state = decode_meter(words, NOW)
    assert state.energy_export == 655_380.0
    assert state.energy_import is None


def test_meter_currents_take_their_phase_powers_sign() -> None:
    words = meter({40191: 652, 40192: 0x10000 - 435, 40194: -2,
                   40206: 0, 40207: 1500, 40208: -1000, 40210: 0})  # fmt: skip
    state = decode_meter(words, NOW)
    assert state.current_l1 == pytest.approx(-6.52)  # exporting on L1
    assert state.current_l2 == pytest.approx(4.35)  # importing on L2


def test_a_block_that_is_no_meter_is_refused() -> None:
    with pytest.raises(RegisterError, match="model 0"):
        decode_meter(block(METER_START, METER_COUNT, {}), NOW)


def test_further_meters_and_batteries_follow_the_first() -> None:
    assert (meter_start(1), meter_start(2), meter_start(3)) == (40188, 40362, 40536)
    assert (battery_start(1), battery_start(2)) == (0xE170, 0xE270)


def inverter(values: dict[int, int]) -> list[int]:
    return block(INVERTER_START, INVERTER_COUNT, {INVERTER_START: 103, **values})


def test_inverter_power_energy_and_status() -> None:
    words = inverter({40083: 31234, 40084: -1, 40093: 0x0098, 40094: 0x9680, 40095: 0,
                      40100: 3300, 40101: 0, 40107: 4})  # fmt: skip
    inv = decode_inverter(words)
    assert inv.ac_power == pytest.approx(3123.4)
    assert inv.dc_power == 3300.0
    assert inv.energy == 10_000_000.0  # 0x00989680
    assert (inv.status, inv.status_name) == (4, "producing")


def test_inverter_sentinels_are_missing() -> None:
    inv = decode_inverter(inverter({40083: 0x8000, 40101: 0x8000, 40107: 0xFFFF}))
    assert inv.ac_power is None and inv.dc_power is None and inv.status is None
    assert inv.energy is None  # acc32 0


def test_inverter_energy_is_acc32_high_word_first_times_its_factor() -> None:
    # 0x0001_0002 = 65538: low word first it would be 0x0002_0001 = 131073
    inv = decode_inverter(inverter({40093: 0x0001, 40094: 0x0002, 40095: 2}))
    assert inv.energy == 6_553_800.0
    inv = decode_inverter(inverter({40093: 0x0001, 40094: 0x0002, 40095: -1}))
    assert inv.energy == pytest.approx(6553.8)


def test_inverter_energy_without_its_factor_is_missing() -> None:
    inv = decode_inverter(inverter({40093: 0x0001, 40094: 0x0002, 40095: 0x8000}))
    assert inv.energy is None


def test_an_unknown_status_keeps_its_code() -> None:
    inv = decode_inverter(inverter({40107: 9}))
    assert (inv.status, inv.status_name) == (9, "status 9")


def test_the_inverters_state() -> None:
    state = inverter_state(Inverter(103, 2000.0, 2100.0, 9_000_000.0, 5), NOW)
    assert state.model_dump() == {
        "ts": NOW, "power": 2000.0, "dc_power": 2100.0, "energy": 9_000_000.0,
        "status_code": 5, "status": "throttled",
    }  # fmt: skip


def test_a_sleeping_inverters_state_has_what_it_sends() -> None:
    state = inverter_state(Inverter(103, 0.0, None, None, None), NOW)
    assert (state.power, state.dc_power, state.energy, state.status) == (0.0, None, None, None)


def test_an_inverter_state_needs_its_ac_power() -> None:
    with pytest.raises(RegisterError, match="no AC power"):
        inverter_state(Inverter(103, None, 2100.0, 9_000_000.0, 4), NOW)


def test_a_block_that_is_no_inverter_is_refused() -> None:
    with pytest.raises(RegisterError, match="no SunSpec inverter"):
        decode_inverter(block(INVERTER_START, INVERTER_COUNT, {INVERTER_START: 0xFFFF}))


def battery(power: float | None, soc: float | None, status: int = 3) -> list[int]:
    values = {0xE186: status}
    for at, v in ((0xE174, power), (0xE184, soc)):
        low, high = f32_low_first(v) if v is not None else (0x0000, 0x7FC0)
        values[at], values[at + 1] = low, high
    return block(BATTERY_START, BATTERY_COUNT, values)


def test_battery_floats_are_low_word_first_and_charging_is_positive() -> None:
    assert decode_battery(battery(-1250.5, 87.25, 4)) == Battery(-1250.5, 87.25, 4)


def test_battery_nan_is_missing() -> None:
    assert decode_battery(battery(None, 50.0)).power is None


def test_a_battery_state_needs_its_soc_and_power() -> None:
    inv = Inverter(103, 2000.0, 2100.0, None, 4)
    with pytest.raises(RegisterError, match="state of charge or power"):
        battery_state(Battery(None, 50.0, 3), inv, NOW)


def test_pv_power_is_the_inverters_dc_intake_plus_what_the_battery_takes() -> None:
    state = battery_state(Battery(800.0, 40.0, 3), Inverter(103, 2000.0, 2100.0, None, 4), NOW)
    assert (state.power, state.soc, state.pv_power, state.output_home_power) == (
        800.0, 40.0, 2900.0, 2000.0,
    )  # fmt: skip


def test_no_pv_power_without_the_dc_reading() -> None:
    state = battery_state(Battery(-500.0, 40.0, 4), Inverter(103, None, None, None, 4), NOW)
    assert state.pv_power is None and state.output_home_power is None
