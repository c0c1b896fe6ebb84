"""Home Assistant discovery payloads, checked as Home Assistant reads them."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from wattbus.discovery import DeviceInfo, Entity, device_config, removed_components
from wattbus.models import ControllerCommand
from wattbus.topics import Topics
from wattbus_controller.state import ENTITIES as CONTROLLER_ENTITIES

TOPICS = Topics()
DEVICE = DeviceInfo("zendure-garage", "Zendure SolarFlow 2400 AC", "Zendure", "solarFlow2400AC")
ENTITIES = (
    Entity.power("power", "Battery power"),
    Entity("hold", "binary_sensor", "Held by controller", component_id="held"),
)


def test_entity_ids_are_set_for_every_home_assistant_release() -> None:
    """Since 2026.4 Home Assistant ignores `object_id` and, without `default_entity_id`,
    names entities from device and entity names (`binary_sensor.zendure_zendure_hold_ev_guard`
    instead of the documented id)."""
    cmps = device_config(TOPICS, DEVICE, ENTITIES)["cmps"]
    assert cmps["power"]["default_entity_id"] == "sensor.zendure_garage_power"
    assert cmps["power"]["object_id"] == "zendure_garage_power"  # releases before 2025.10
    assert cmps["held"]["default_entity_id"] == "binary_sensor.zendure_garage_held"


def test_an_entity_that_changed_platform_leaves_no_old_one_behind() -> None:
    """The battery's hold was a switch; now it is an indicator with its own component id, so
    the switch published by an earlier release is removed."""
    old = {"cmps": {"hold": {"p": "switch", "name": "Hold (EV guard)"}, "power": {"p": "sensor",
           "name": "Battery power"}}}  # fmt: skip
    removed = removed_components(json.dumps(old).encode(), ENTITIES)
    assert removed == {"hold": "switch"}
    cmps = device_config(TOPICS, DEVICE, ENTITIES, removed=removed)["cmps"]
    assert cmps["hold"] == {"p": "switch"}
    assert cmps["held"]["p"] == "binary_sensor"


def test_home_assistant_offers_the_controllers_threshold_range_exactly() -> None:
    """Its slider went from 0 W while a command below 100 W is refused."""
    threshold = next(e for e in CONTROLLER_ENTITIES if e.key == "threshold")
    low, high = threshold.minimum, threshold.maximum
    assert low is not None and high is not None
    assert (low, high) == (100, 50_000)
    ControllerCommand.model_validate({"threshold": low})
    ControllerCommand.model_validate({"threshold": high})
    for outside in (low - 1, high + 1):
        with pytest.raises(ValidationError):
            ControllerCommand.model_validate({"threshold": outside})
