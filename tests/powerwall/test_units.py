"""The Powerwall's scales and signs in wattbus's, the settings a bridge starts with, and the
command model: plain values, no gateway."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from wattbus.commands import CommandError, parse_command
from wattbus.settings import describe_error
from wattbus_powerwall.commands import PowerwallCommand
from wattbus_powerwall.models import Aggregates, OperationAnswer, Reading, Settings, Soe
from wattbus_powerwall.settings import PowerwallSettings
from wattbus_powerwall.units import app_percent, battery_power, raw_percent

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
SET = "wattbus/powerwall/set"


@pytest.mark.parametrize(
    ("raw", "app"), [(5.0, 0.0), (24.0, 20.0), (62.0, 60.0), (100.0, 100.0), (2.0, 0.0)]
)
def test_the_gateways_raw_percent_is_the_apps_without_its_5_percent_buffer(
    raw: float, app: float
) -> None:
    assert app_percent(raw) == pytest.approx(app)


@pytest.mark.parametrize("app", [0.0, 20.0, 80.0, 100.0])
def test_an_app_percent_written_locally_is_raw_and_reads_back_the_same(app: float) -> None:
    assert app_percent(raw_percent(app)) == pytest.approx(app)
    assert raw_percent(0.0) == 5.0


def test_a_battery_pypowerwall_says_discharges_is_negative_on_the_bus() -> None:
    assert battery_power(1500.0) == -1500.0
    assert battery_power(-800.0) == 800.0
    assert str(battery_power(0.0)) == "0.0"  # not -0.0


def reading(battery: float, site: float, soe: float = 62.0, raw_reserve: float = 100.0) -> Reading:
    meters = {"site": site, "battery": battery, "load": 2000.0, "solar": 300.0}
    aggregates = Aggregates.model_validate({k: {"instant_power": v} for k, v in meters.items()})
    operation = OperationAnswer(real_mode="backup", backup_reserve_percent=raw_reserve)
    return Reading(aggregates, Soe(percentage=soe), Settings.of(operation))


def test_a_reading_is_a_battery_state_in_wattbus_units_and_signs() -> None:
    state = reading(battery=1200.0, site=500.0).battery_state(NOW)
    assert state.model_dump(exclude_none=True) == {
        "ts": NOW, "soc": 60.0, "power": -1200.0, "pv_power": 300.0, "site_power": 500.0,
        "load_power": 2000.0, "reserve": 100.0, "operation": "backup", "hold": False,
        "output_home_power": 1200.0, "grid_input_power": 0.0,
    }  # fmt: skip
    charging = reading(battery=-800.0, site=500.0).battery_state(NOW)
    assert (charging.output_home_power, charging.grid_input_power) == (0.0, 800.0)


def test_a_reserve_on_the_raw_scale_reads_as_the_app_shows_it() -> None:
    answer = OperationAnswer(real_mode="self_consumption", backup_reserve_percent=24.0)
    assert Settings.of(answer).reserve == pytest.approx(20.0)


@pytest.mark.parametrize("raw", [5.0, 12.65, 14.5, 24.0, 36.35, 67.7, 100.0])
def test_a_raw_reserve_read_and_written_back_is_exactly_what_it_was(raw: float) -> None:
    """What a restore relies on: the owner's own value, not one a rounding away from it."""
    answer = OperationAnswer(real_mode="self_consumption", backup_reserve_percent=raw)
    assert raw_percent(Settings.of(answer).reserve) == raw


def test_the_state_and_the_answers_show_the_reserve_to_a_tenth() -> None:
    settings = Settings.of(OperationAnswer(real_mode="backup", backup_reserve_percent=30.0))
    assert settings.describe() == "operation backup, reserve 26.3 %"
    assert reading(battery=0.0, site=0.0, raw_reserve=30.0).battery_state(NOW).reserve == 26.3


def test_an_answer_without_the_battery_meter_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValidationError):
        Aggregates.model_validate({"site": {"instant_power": 1.0}, "load": {}, "solar": {}})


def settings_error(**values: object) -> str:
    with pytest.raises(ValidationError) as caught:
        PowerwallSettings.only(**values)
    return describe_error(caught.value, PowerwallSettings)


def test_the_local_route_without_a_host_names_the_variable() -> None:
    assert settings_error(password="x") == "WATTBUS_POWERWALL_HOST is required"


def test_the_local_route_without_a_password_names_the_variable() -> None:
    assert settings_error(host="127.0.0.1").startswith("WATTBUS_POWERWALL_PASSWORD is required")


def test_the_cloud_route_needs_the_accounts_email_and_no_host() -> None:
    assert settings_error(route="cloud").startswith("WATTBUS_POWERWALL_EMAIL is required")
    cloud = PowerwallSettings.only(route="cloud", email="me@example.com")
    assert cloud.host is None
    assert cloud.interval == 30.0
    assert not cloud.failover


def test_a_host_may_carry_the_gateways_port_but_not_a_scheme() -> None:
    local = PowerwallSettings.only(host="127.0.0.1:8443", password="x")
    assert local.host == "127.0.0.1:8443"
    assert local.interval == 5.0
    assert "not a URL" in settings_error(host="https://127.0.0.1", password="x")


def command(payload: bytes, topic: str = SET) -> PowerwallCommand:
    return parse_command(PowerwallCommand, SET, topic, payload)


def test_commands_are_strictly_typed() -> None:
    assert command(b'{"reserve": 30, "operation": "backup"}') == PowerwallCommand(
        reserve=30.0, operation="backup"
    )
    assert command(b"backup", f"{SET}/operation").operation == "backup"
    assert command(b"25", f"{SET}/reserve").reserve == 25.0
    for bad in (
        b'{"reserve": true}',
        b'{"reserve": "30"}',
        b'{"reserve": 101}',
        b'{"operation": "Backup"}',
        b'{"operation": null}',
        b'{"min_soc": 20}',
        b'{"hold": 1}',
    ):
        with pytest.raises(CommandError):
            command(bad)


def test_a_fallback_must_be_what_the_route_takes_and_must_not_look_held() -> None:
    remote = {"route": "fleetapi"}
    assert settings_error(**remote, fallback_reserve=90).startswith(
        "WATTBUS_POWERWALL_FALLBACK_RESERVE must be at most 80 %"
    )
    held = {"host": "127.0.0.1", "password": "x", "fallback_operation": "backup"}
    assert "what a hold looks like" in settings_error(**held, fallback_reserve=100)
    assert PowerwallSettings.only(**held, fallback_reserve=50).fallback_reserve == 50
