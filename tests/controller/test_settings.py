"""Which ids the controller accepts for its roles: each device plays one."""

from __future__ import annotations

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
