"""The settings models refuse what could not work, on the field at fault, and accept every
form a user could mean. Built with `only()`: nothing here reads the environment or `.env`.
(tests/cli runs the same values through `config check` and `run`.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from support.broker import Broker
from wattbus.settings import BusSettings, ServiceSettings, health_file_of
from wattbus_controller.settings import ControllerSettings
from wattbus_shelly.settings import ShellySettings
from wattbus_zendure.settings import ZendureSettings

HOST = {"host": "127.0.0.1"}
BAD: list[tuple[type[ServiceSettings], dict[str, Any], str]] = [
    (BusSettings, {"log_level": "LOUD"}, "log_level"),
    (BusSettings, {"mqtt_port": 0}, "mqtt_port"),
    (BusSettings, {"mqtt_port": 99999}, "mqtt_port"),
    (BusSettings, {"mqtt_host": "mqtt://x"}, "mqtt_host"),
    (BusSettings, {"mqtt_host": "http://127.0.0.1"}, "mqtt_host"),
    (BusSettings, {"mqtt_host": "broker:1883"}, "mqtt_host"),
    (BusSettings, {"mqtt_host": ""}, "mqtt_host"),
    (BusSettings, {"mqtt_host": "two words"}, "mqtt_host"),
    (BusSettings, {"topic_prefix": "wattbus/#"}, "topic_prefix"),
    (BusSettings, {"topic_prefix": "wattbus/+/x"}, "topic_prefix"),
    (BusSettings, {"topic_prefix": "wattbus/"}, "topic_prefix"),
    (BusSettings, {"topic_prefix": ""}, "topic_prefix"),
    (BusSettings, {"topic_prefix": "$SYS"}, "topic_prefix"),
    (BusSettings, {"discovery_prefix": "home#"}, "discovery_prefix"),
    (BusSettings, {"heartbeat": 0}, "heartbeat"),
    (ShellySettings, {**HOST, "id": "zen+"}, "id"),
    (ShellySettings, {**HOST, "id": "a/b"}, "id"),
    (ShellySettings, {**HOST, "id": "#"}, "id"),
    (ShellySettings, {**HOST, "id": "controller"}, "id"),
    (ShellySettings, {"host": "http://127.0.0.1:8080"}, "host"),
    (ShellySettings, {**HOST, "port": 70000}, "port"),
    (ShellySettings, {"source": "mqtt", "mqtt_prefix": "shelly/#"}, "mqtt_prefix"),
    (ZendureSettings, {"host": "mqtt://x"}, "host"),
    (ZendureSettings, {**HOST, "id": "zen+"}, "id"),
    (ZendureSettings, {**HOST, "port": 0}, "port"),
    (ZendureSettings, {**HOST, "fallback_min_soc": 100}, "fallback_min_soc"),
    (ZendureSettings, {**HOST, "fallback_min_soc": 50.1}, "fallback_min_soc"),
    (ZendureSettings, {**HOST, "fallback_output_limit": -1}, "fallback_output_limit"),
    # 0 W is what a hold by output limit looks like: a refused restore ending there stays held
    (ZendureSettings, {**HOST, "fallback_output_limit": 0}, "fallback_output_limit"),
    (ZendureSettings, {**HOST, "fallback_output_limit": 0.4}, "fallback_output_limit"),
    (ZendureSettings, {**HOST, "default_lease": 0.001}, "default_lease"),
    (ControllerSettings, {"batteries": ""}, "batteries"),
    (ControllerSettings, {"batteries": " , "}, "batteries"),
    (ControllerSettings, {"batteries": "[]"}, "batteries"),
    (ControllerSettings, {"batteries": '["a", 1]'}, "batteries"),
    (ControllerSettings, {"batteries": '["a",'}, "batteries"),
    (ControllerSettings, {"batteries": "zendure,zendure"}, "batteries"),
    (ControllerSettings, {"batteries": "grid-meter"}, "batteries"),
    (ControllerSettings, {"batteries": "zen+"}, "batteries"),
    (ControllerSettings, {"meter": "a/b"}, "meter"),
    (ControllerSettings, {"threshold": 0}, "threshold"),
    (ControllerSettings, {"threshold": "nan"}, "threshold"),
    (ControllerSettings, {"confirm": 1e-9}, "confirm"),
    (ControllerSettings, {"confirm": 0.0001}, "confirm"),
    (ControllerSettings, {"release": 0.0001}, "release"),
    (ControllerSettings, {"release": "inf"}, "release"),
    (ControllerSettings, {"lease": 5}, "lease"),
    (ControllerSettings, {"tick": 1e-9}, "tick"),
]


@pytest.mark.parametrize(("settings", "values", "field"), BAD)
def test_a_value_that_cannot_work_is_refused_on_its_field(
    settings: type[ServiceSettings], values: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        settings.only(**values)
    assert [e["loc"][0] for e in caught.value.errors()] == [field]


@pytest.mark.parametrize(
    ("settings", "values"),
    [
        (BusSettings, {"mqtt_host": "::1"}),
        (BusSettings, {"mqtt_host": "mosquitto"}),
        (BusSettings, {"mqtt_host": "broker.home.arpa"}),
        (BusSettings, {"mqtt_host": "my_broker"}),
        (BusSettings, {"mqtt_port": 1, "topic_prefix": "wattbus/site-1"}),
        (BusSettings, {"mqtt_port": 65535}),
        (ShellySettings, {**HOST, "id": "Grid_Meter-2"}),
        (ZendureSettings, {**HOST, "fallback_min_soc": 50, "fallback_output_limit": 1}),
        (ZendureSettings, {**HOST, "fallback_min_soc": None}),
        (ControllerSettings, {"confirm": 0, "release": 0}),
        (ControllerSettings, {"confirm": 0.5, "release": 1, "threshold": 100}),
        (ControllerSettings, {"confirm": 3600, "release": 3600, "threshold": 50_000}),
    ],
)
def test_every_form_a_user_could_mean_is_accepted(
    settings: type[ServiceSettings], values: dict[str, Any]
) -> None:
    settings.only(**values)


def test_the_log_level_is_taken_in_any_case() -> None:
    assert BusSettings.only(log_level="debug").log_level == "DEBUG"


@pytest.mark.parametrize("given", ['["zendure", "garage"]', "zendure, garage", "zendure,garage,"])
def test_batteries_as_a_list_or_as_json(given: str) -> None:
    assert ControllerSettings.only(batteries=given).batteries == ["zendure", "garage"]


def test_tls_needs_a_ca_file_that_can_be_read_and_holds_a_certificate(tmp_path: Path) -> None:
    not_a_cert = tmp_path / "ca.pem"
    not_a_cert.write_text("hello\n")
    for ca in (tmp_path / "missing.pem", not_a_cert, tmp_path):
        with pytest.raises(ValidationError) as caught:
            BusSettings.only(mqtt_tls=True, mqtt_ca_file=ca)
        assert [e["loc"][0] for e in caught.value.errors()] == ["mqtt_ca_file"]
    BusSettings.only(mqtt_tls=False, mqtt_ca_file=tmp_path / "missing.pem")  # not used
    BusSettings.only(mqtt_tls=True)  # the system's CAs
    BusSettings.only(mqtt_tls=True, mqtt_ca_file=Broker(tmp_path).make_ca())


def test_each_service_has_its_own_health_file_unless_one_is_set(tmp_path: Path) -> None:
    bus = BusSettings.only()
    files = {bus.for_service(name).health_file for name in ("shelly", "zendure", "controller")}
    assert len(files) == 3
    assert bus.for_service("shelly").health_file == health_file_of("shelly")
    chosen = BusSettings.only(health_file=tmp_path / "h")
    assert chosen.for_service("shelly").health_file == tmp_path / "h"
