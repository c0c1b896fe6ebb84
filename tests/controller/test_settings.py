"""Which ids the controller accepts for its roles: each device plays one."""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from wattbus_controller.settings import ControllerSettings


def test_no_charger_by_default() -> None:
    assert ControllerSettings.only().charger is None


def test_a_charger_is_a_device_id() -> None:
    assert ControllerSettings.only(charger="smartevse-garage").charger == "smartevse-garage"


@pytest.mark.parametrize(
    ("charger", "why"),
    [
        ("grid-meter", "names grid-meter, which is the meter (WATTBUS_CONTROLLER_METER)"),
        ("zendure", "names zendure, a battery (WATTBUS_CONTROLLER_BATTERIES)"),
        ("smartevse/1", "Input should be 1 to 64 letters"),
        ("", "Input should be 1 to 64 letters"),
        ("controller", "'controller' is the controller's own id"),
    ],
)
def test_a_charger_that_is_no_charger_is_refused(charger: str, why: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ControllerSettings.only(charger=charger)
    (error,) = raised.value.errors()
    assert error["loc"] == ("charger",)
    assert why in error["msg"]


def test_dispatch_is_off_by_default_and_its_hours_are_londons_midnight_to_six() -> None:
    s = ControllerSettings.only()
    assert s.tariff is None and s.dispatch_batteries is None
    assert s.cheap_hours == (time(0, 0), time(6, 0))
    assert s.timezone == ZoneInfo("Europe/London")


def test_cheap_hours_are_read_as_a_tariff_states_them() -> None:
    s = ControllerSettings.only(cheap_hours="23:30 - 05:30", timezone="Europe/Dublin")
    assert s.cheap_hours == (time(23, 30), time(5, 30))
    assert s.timezone == ZoneInfo("Europe/Dublin")


@pytest.mark.parametrize("hours", ["midnight", "24:00-06:00", "00:00-06:60", "0-6"])
def test_cheap_hours_that_are_no_hours_are_refused(hours: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ControllerSettings.only(cheap_hours=hours)
    assert raised.value.errors()[0]["loc"] == ("cheap_hours",)


def test_dispatch_holds_only_batteries_the_controller_works_with() -> None:
    s = ControllerSettings.only(batteries="zendure,powerwall", dispatch_batteries="powerwall")
    assert s.dispatch_batteries == ["powerwall"]
    with pytest.raises(ValidationError) as raised:
        ControllerSettings.only(dispatch_batteries="powerwall")
    assert "names powerwall, not one of WATTBUS_CONTROLLER_BATTERIES" in str(raised.value)


@pytest.mark.parametrize("tariff", ["grid-meter", "zendure"])
def test_a_tariff_is_its_own_device(tariff: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ControllerSettings.only(tariff=tariff)
    assert raised.value.errors()[0]["loc"] == ("tariff",)
