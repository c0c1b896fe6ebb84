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


def test_the_guard_holds_every_battery_unless_told_which() -> None:
    assert ControllerSettings.only(guard_batteries="").guard_batteries is None
    assert ControllerSettings.only(guard_batteries="none").guard_batteries == []
    s = ControllerSettings.only(batteries="zendure,powerwall", guard_batteries="zendure")
    assert s.guard_batteries == ["zendure"]
    with pytest.raises(ValidationError) as raised:
        ControllerSettings.only(guard_batteries="powerwall")
    assert raised.value.errors()[0]["loc"] == ("guard_batteries",)


MAIL = {"tariff": "kraken", "smtp_host": "127.0.0.1", "invite_from": "wattbus@home.test",
        "invite_to": "owner@home.test"}  # fmt: skip


def test_invites_are_off_without_an_smtp_host_or_a_tariff() -> None:
    assert not ControllerSettings.only().invites
    assert not ControllerSettings.only(tariff="kraken").invites
    assert not ControllerSettings.only(**MAIL | {"tariff": None}).invites
    on = ControllerSettings.only(**MAIL)
    assert on.invites and on.smtp_security == "starttls" and on.smtp_port is None


@pytest.mark.parametrize("to", ['["a@home.test", "b@home.test"]', "a@home.test, b@home.test"])
def test_recipients_are_a_comma_list_or_a_json_list(to: str) -> None:
    s = ControllerSettings.only(**MAIL | {"invite_to": to})
    assert s.invite_to == ["a@home.test", "b@home.test"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"invite_from": None}, "invite_from"),
        ({"invite_to": ""}, "invite_to"),
        ({"invite_to": "owner"}, "invite_to"),
        ({"invite_to": "Owner <owner@home.test>"}, "invite_to"),
        ({"smtp_username": "wattbus"}, "smtp_password"),
        ({"smtp_password": "secret"}, "smtp_username"),
        ({"smtp_security": "ssl"}, "smtp_security"),
        ({"cheap_rate": -0.1}, "cheap_rate"),
        ({"smtp_host": "smtp://mail.home.test"}, "smtp_host"),
    ],
)
def test_incomplete_or_bad_mail_settings_are_refused(values: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ControllerSettings.only(**MAIL | values)
    assert raised.value.errors()[0]["loc"][0] == field


def test_tracked_chargers_are_ids_with_their_kind() -> None:
    s = ControllerSettings.only(solar_chargers="nrgkick, garage:smartevse,zappi")
    assert s.solar_chargers == {"nrgkick": "nrgkick", "garage": "smartevse", "zappi": "zappi"}
    tracking = s.tracking()
    assert tracking is not None
    assert list(tracking.chargers) == ["nrgkick", "garage", "zappi"]  # their order kept
    assert ControllerSettings.only().tracking() is None


def test_auto_phases_only_for_a_charger_wattbus_switches() -> None:
    """The others cannot be told a phase count, so they keep three (docs/solar.md)."""
    s = ControllerSettings.only(
        solar_chargers="nrgkick,garage:smartevse,zappi", solar_phases="auto"
    )
    tracking = s.tracking()
    assert tracking is not None
    assert {cid: c.phases for cid, c in tracking.chargers.items()} == {
        "nrgkick": "auto", "garage": 3, "zappi": 3
    }  # fmt: skip
    one = ControllerSettings.only(solar_chargers="garage:smartevse", solar_phases=1).tracking()
    assert one is not None and one.chargers["garage"].phases == 1


@pytest.mark.parametrize(
    ("values", "field", "why"),
    [
        ({"solar_chargers": "garage"}, "solar_chargers", "Input should be 'nrgkick'"),
        ({"solar_chargers": "zendure:nrgkick"}, "solar_chargers", "already has another role"),
        ({"solar_phases": "2"}, "solar_phases", "Input should be 1, 3 or 'auto'"),
        ({"solar_min_current": 20, "solar_max_current": 16}, "solar_min_current",
         "is above WATTBUS_CONTROLLER_SOLAR_MAX_CURRENT=16"),
        ({"solar_battery_soc": 80}, "solar_battery_max_charge", "what the battery takes"),
        ({"solar_battery": "powerwall"}, "solar_battery", "not one of WATTBUS_CONTROLLER"),
        ({"plugs": "kasa,kasa"}, "plugs", "twice"),
        ({"plugs": "zendure"}, "plugs", "another role"),
        ({"plug_windows": "10-16"}, "plug_windows", "should be HH:MM-HH:MM"),
        ({"plug_start": "25:00"}, "plug_start", "should be HH:MM"),
    ],
)  # fmt: skip
def test_solar_and_plug_settings_that_cannot_work_are_refused(
    values: dict[str, object], field: str, why: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        ControllerSettings.only(**values)
    (error,) = raised.value.errors()
    assert error["loc"][0] == field
    assert why in error["msg"]


def test_plug_hours_and_start_as_the_owner_writes_them() -> None:
    s = ControllerSettings.only(plugs="kasa", plug_windows="10:00-16:00, 22:00-02:00",
                                plug_start="09:30")  # fmt: skip
    rules = s.plugging
    assert rules is not None
    rule = rules.plugs["kasa"]
    assert rule.windows == ((time(10), time(16)), (time(22), time(2)))
    assert rule.start == time(9, 30)


def test_a_plug_of_its_own_keeps_the_shared_values_it_does_not_name() -> None:
    s = ControllerSettings.only(
        plugs="rod,dehumidifier", plug_on_above=2000, plug_min_on=600,
        plug_rules={"dehumidifier": {"on_above": 300, "windows": "10:00-16:00"}},
    )  # fmt: skip
    rules = s.plugging
    assert rules is not None
    rod, dehumidifier = rules.plugs["rod"], rules.plugs["dehumidifier"]
    assert (rod.on_above, rod.min_on, rod.windows) == (2000, 600, ())
    assert (dehumidifier.on_above, dehumidifier.min_on) == (300, 600)
    assert dehumidifier.windows == ((time(10), time(16)),)


@pytest.mark.parametrize(
    ("rules", "why"),
    [
        ({"heater": {"on_above": 300}}, "names heater, not one of WATTBUS_CONTROLLER_PLUGS"),
        ({"rod": {"on_above": True}}, "number"),
        ({"rod": {"on_abve": 300}}, "Extra inputs are not permitted"),
        ({"rod": {"min_soc": 120}}, "less than or equal to 100"),
    ],
)
def test_a_plug_rule_that_cannot_work_is_refused(rules: dict[str, object], why: str) -> None:
    with pytest.raises(ValidationError) as raised:
        ControllerSettings.only(plugs="rod", plug_rules=rules)
    assert why in str(raised.value)
