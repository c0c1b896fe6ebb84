"""A Zappi's status in wattbus's terms, from plain answers: no HTTP, no bus."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from wattbus.models import ChargerMode
from wattbus_myenergi.models import ZappiStatus, charger_state

TS = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# one Zappi from /cgi-jstatus-Z, as the servers list it: charging 5.3 kW in Eco+
CHARGING: dict[str, Any] = {
    "sno": 16000001, "fwv": "3562S5.140", "pst": "C2", "zmo": 3, "sta": 3, "che": 4.37,
    "div": 5312, "ectt1": "Internal Load", "ectp1": 5309, "ectt2": "Grid", "ectp2": -120,
    "ectt3": "None", "phaseSetting": "SINGLE_PHASE", "tbk": 0, "bsm": 0, "vol": 2311,
}  # fmt: skip


def state(**changes: Any) -> Any:
    return charger_state(ZappiStatus.model_validate({**CHARGING, **changes}), TS)


def test_a_car_drawing_power_in_c2_is_charging() -> None:
    s = state()
    assert (s.charging, s.plugged, s.status_code, s.status) == (True, True, "C2", "Charging")
    assert (s.power, s.session_energy, s.phases) == (5312, 4370.0, 1)
    assert (s.mode, s.mode_name, s.error) == (ChargerMode.SOLAR, "Eco+", None)
    assert s.ts == TS


@pytest.mark.parametrize(
    ("code", "plugged", "text"),
    [
        ("C1", True, "EV ready to charge"),
        ("B1", True, "EV Connected"),
        ("B2", True, "Waiting for EV"),
        ("A", False, "EV Disconnected"),
        ("F", None, "Fault"),
    ],
)
def test_only_c2_is_charging(code: str, plugged: bool | None, text: str) -> None:
    s = state(pst=code, div=0)
    assert (s.charging, s.plugged, s.status_code, s.status) == (False, plugged, code, text)


def test_a_fault_says_so_in_error() -> None:
    assert state(pst="F").error == "Fault (plug state F)"


def test_a_plug_state_this_version_does_not_know_is_kept_as_sent() -> None:
    s = state(pst="E9")
    assert (s.charging, s.plugged, s.status_code, s.status) == (False, None, "E9", None)


@pytest.mark.parametrize(
    ("zmo", "mode", "name"),
    [
        (1, ChargerMode.NORMAL, "Fast"),
        (2, ChargerMode.MIN_SOLAR, "Eco"),
        (3, ChargerMode.SOLAR, "Eco+"),
        (4, ChargerMode.OFF, "Stopped"),
        (0, None, None),  # starting up
        (9, None, None),
    ],
)
def test_modes(zmo: int, mode: ChargerMode | None, name: str | None) -> None:
    s = state(zmo=zmo)
    assert (s.mode, s.mode_name) == (mode, name)


def test_without_div_the_internal_load_ct_is_the_charge_power() -> None:
    data = {k: v for k, v in CHARGING.items() if k != "div"}
    data |= {"ectt4": "Internal Load", "ectp4": 11}  # a second CT on the car's cable
    assert charger_state(ZappiStatus.model_validate(data), TS).power == 5320


def test_what_the_zappi_does_not_send_is_left_out() -> None:
    s = charger_state(ZappiStatus.model_validate({"sno": 16000001}), TS)
    assert (s.charging, s.plugged, s.power, s.session_energy) == (False, None, None, None)
    assert (s.phases, s.mode, s.status_code, s.status) == (None, None, None, None)


@pytest.mark.parametrize(("setting", "phases"), [("THREE_PHASE", 3), ("AUTO", None)])
def test_phases_only_from_a_fixed_phase_setting(setting: str, phases: int | None) -> None:
    assert state(phaseSetting=setting).phases == phases
