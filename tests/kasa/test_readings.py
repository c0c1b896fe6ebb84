"""A plug's reading as a `PlugState`: python-kasa's kWh as Wh, what is not measured as None."""

from __future__ import annotations

from datetime import UTC, datetime

from wattbus_kasa.readings import Reading, plug_state

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def test_energy_in_kwh_is_published_in_wh() -> None:
    s = plug_state(Reading(on=True, power=412.0, total=183.742, today=1.264), NOW)
    assert (s.energy, s.energy_today, s.power) == (183_742.0, 1_264.0, 412.0)
    assert s.ts == NOW


def test_a_plug_without_a_meter_has_none_never_zero() -> None:
    s = plug_state(Reading(on=False, model="HS100(UK)", alias=""), NOW)
    assert (s.on, s.model, s.alias) == (False, "HS100(UK)", None)
    assert (s.power, s.energy, s.energy_today, s.voltage, s.current) == (None,) * 5


def test_a_value_that_is_no_number_is_not_measured() -> None:
    s = plug_state(Reading(on=True, power=True, total=0.0, voltage=230, current=None), NOW)
    assert (s.power, s.energy, s.voltage, s.current) == (None, 0.0, 230.0, None)
