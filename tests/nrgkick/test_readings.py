"""The answers' meaning, with plain values: the documentation's sample, both spellings of its
enums, the Connect's kW and kWh, and fields that are missing or not numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from wattbus.models import ChargerMode
from wattbus_nrgkick.exceptions import NrgkickError
from wattbus_nrgkick.readings import (
    Gen2Info,
    connect_state,
    gen2_info,
    gen2_state,
    phases_drawing,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
INFO = Gen2Info("NRG2-1", "4.1", 16.0, 3)
CONTROL = {"current_set": 6, "charge_pause": 0, "energy_limit": 0, "phase_count": 3}
# the documentation's sample /values, cut to what the bridge reads
SAMPLE: dict[str, Any] = {
    "energy": {"total_charged_energy": 14187, "charged_energy": 0},
    "powerflow": {"charging_voltage": 235.07, "charging_current": 6, "total_active_power": 0,
                  "l1": {"voltage": 235.35, "current": 0}, "l2": {"current": 0},
                  "l3": {"current": 0}},
    "general": {"status": "STANDBY", "charge_permitted": 0, "error_code": "NO_ERROR"},
}  # fmt: skip


def charging(currents: tuple[float, float, float], status: object = 3) -> dict[str, Any]:
    flow = {f"l{n + 1}": {"current": a} for n, a in enumerate(currents)}
    return {
        "energy": {"total_charged_energy": 20000, "charged_energy": 1500},
        "powerflow": {"total_active_power": 4140.0, **flow},
        "general": {"status": status, "error_code": 0},
    }


def test_the_documented_sample_is_a_charger_in_standby() -> None:
    s = gen2_state(INFO, SAMPLE, CONTROL, NOW)
    assert (s.charging, s.plugged, s.status, s.status_code) == (False, False, "Standby", "1")
    assert (s.power, s.current, s.total_energy, s.session_energy) == (0.0, 6.0, 14187.0, 0.0)
    assert (s.min_current, s.max_current, s.mode, s.error) == (6.0, 16.0, ChargerMode.NORMAL, None)
    assert s.phases == 3  # not charging: the phase count set


def test_raw_numbers_read_as_the_words_do() -> None:
    assert gen2_state(INFO, charging((6, 6, 0), 3), CONTROL, NOW) == gen2_state(
        INFO, charging((6, 6, 0), "CHARGING"), CONTROL, NOW
    )


def test_a_car_on_two_phases_shows_two_phases_while_charging() -> None:
    s = gen2_state(INFO, charging((6.1, 5.9, 0.2)), CONTROL, NOW)
    assert (s.charging, s.plugged, s.phases, s.power) == (True, True, 2, 4140.0)
    assert (s.session_energy, s.total_energy) == (1500.0, 20000.0)


def test_paused_and_an_error_code() -> None:
    values = charging((0, 0, 0), 6)
    values["general"]["error_code"] = 17
    s = gen2_state(INFO, values, {**CONTROL, "charge_pause": 1}, NOW)
    assert (s.mode, s.error, s.plugged, s.status) == (
        ChargerMode.PAUSE,
        "error code 17",
        None,
        "Error",
    )


def test_missing_or_non_numbers_are_missing_never_zero() -> None:
    values = charging((6, 6, 6))
    values["powerflow"]["total_active_power"] = None
    values["energy"] = {"charged_energy": True}
    s = gen2_state(INFO, values, {"charge_pause": 0}, NOW)
    assert (s.power, s.session_energy, s.total_energy, s.current) == (None, None, None, None)


@pytest.mark.parametrize("status", [None, "SLEEPING", 4.5, True])
def test_a_status_it_does_not_know_is_a_bad_answer(status: object) -> None:
    with pytest.raises(NrgkickError, match="status"):
        gen2_state(INFO, charging((0, 0, 0), status), CONTROL, NOW)


def test_a_status_number_it_does_not_know_is_kept_and_the_power_decides() -> None:
    s = gen2_state(INFO, charging((6, 6, 6), 4), CONTROL, NOW)
    assert (s.status_code, s.status, s.plugged, s.charging) == ("4", None, None, True)


def test_a_bad_pause_flag_is_a_bad_answer() -> None:
    with pytest.raises(NrgkickError, match="charge_pause"):
        gen2_state(INFO, SAMPLE, {**CONTROL, "charge_pause": 2}, NOW)


def test_the_range_is_the_lower_of_rating_and_connector() -> None:
    info = {"general": {"rated_current": 32, "serial_number": "S1"},
            "connector": {"max_current": 16, "phase_count": 3},
            "versions": {"sw_sm": "4.2"}}  # fmt: skip
    assert gen2_info(info) == Gen2Info("S1", "4.2", 16.0, 3)
    assert gen2_info({}) == Gen2Info(None, None, None, None)


def test_noise_on_a_phase_is_not_a_phase() -> None:
    assert phases_drawing([0.3, 0.0, None]) is None
    assert phases_drawing([10.0, 9.0, 0.9]) == 2


SETTINGS: dict[str, Any] = {
    "Info": {"Connected": True, "ErrorCodes": [0]},
    "Values": {"ChargingStatus": {"Charging": True}, "ChargingCurrent": {"Value": 10}},
}


def test_connect_kilowatts_and_kilowatt_hours_become_watts_and_watt_hours() -> None:
    m = {"ChargingPower": 6.9, "ChargingEnergy": 1.25, "ChargingEnergyOverAll": 950.5,
         "ChargingCurrentPhase": [10.0, 10.0, 10.0]}  # fmt: skip
    s = connect_state(m, SETTINGS, 16.0, NOW)
    assert (s.power, s.session_energy, s.total_energy) == (6900.0, 1250.0, 950500.0)
    assert (s.charging, s.plugged, s.phases, s.current) == (True, True, 3, 10.0)
    assert (s.mode, s.min_current, s.max_current, s.error) == (ChargerMode.NORMAL, 6.0, 16.0, None)


def test_connect_without_a_charger_in_reach_is_no_car() -> None:
    m = {"Message": "No content found for this request"}
    paused = {**SETTINGS, "Values": {**SETTINGS["Values"], "ChargingStatus": {"Charging": False}}}
    s = connect_state(m, paused, 16.0, NOW)
    assert (s.charging, s.plugged, s.power, s.phases, s.mode) == (
        False, False, None, None, ChargerMode.PAUSE)  # fmt: skip


def test_connect_error_code_and_its_own_maximum() -> None:
    settings = {"Info": {"Connected": True, "ErrorCodes": [3]},
                "Values": {"ChargingStatus": {"Charging": True},
                           "ChargingCurrent": {"Value": 8, "Max": 13}}}  # fmt: skip
    s = connect_state({"ChargingPower": 0}, settings, 16.0, NOW)
    assert (s.error, s.max_current, s.charging) == ("error code 3", 13.0, False)


def test_connect_settings_without_the_charging_flag_are_a_bad_answer() -> None:
    with pytest.raises(NrgkickError, match="Charging"):
        connect_state({}, {"Info": {}, "Values": {}}, 16.0, NOW)
