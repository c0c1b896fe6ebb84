"""The solar bench's rule sets on a short broken-cloud morning, assembled as the bench runs
them: every peer, wattbus and the oracle charge the car and give figures that can be true, and
the oracle is the limit it is printed as. It takes nothing from the grid and next to nothing
from the house battery, and no rule set puts more sun into the car on 3 phases. With 1/3
switching a rule set may come a little above it, for a reason the oracle's docstring gives:
riding a shade at 6 A on the house battery counts that shade's sun as solar. And the rod the
bench puts on a plug runs on wattbus's plug rules as the controller would switch it."""

from __future__ import annotations

import pytest
from solar import DEFAULTS, day_rows, plug_rows
from solar_plug import ROD, PluggedLoad
from wattbus_simulator.solar_day import HouseLoad, Sky

MORNING = (9.5 * 3600, 12 * 3600)  # the car arrives at 10:00; broken cloud from the start


def test_every_rule_set_charges_and_the_oracle_bounds_them() -> None:
    rows = day_rows(Sky.BROKEN, 1, DEFAULTS, *MORNING)

    assert [(r.name, r.phases) for r in rows] == [
        ("baseline", 3), ("evcc", 3), ("evcc", "auto"), ("openWB", 3), ("openWB", "auto"),
        ("wattbus", 3), ("wattbus", "auto"), ("oracle", 3), ("oracle", "auto"),
    ]  # fmt: skip
    for r in rows:
        f = r.figures
        assert f.car > 1.0 and f.cycles >= 1, r
        assert 0.0 <= f.car_solar <= f.car, r
        assert f.grid_import >= 0.0 and f.battery_discharge >= 0.0, r
    three = [r for r in rows if r.phases == 3]
    switching = [r for r in rows if r.phases == "auto"]
    for same in (three, switching):
        oracle = next(r.figures for r in same if r.kind == "oracle")
        assert oracle.grid_import == 0.0
        assert oracle.car_solar >= 0.99 * oracle.car
    oracle = next(r.figures for r in three if r.kind == "oracle")
    assert all(oracle.car_solar >= r.figures.car_solar for r in three)
    oracle = next(r.figures for r in switching if r.kind == "oracle")
    assert all(oracle.car_solar >= 0.98 * r.figures.car_solar for r in switching)


def test_the_rod_on_its_plug_runs_on_surplus_beside_the_car() -> None:
    """wattbus with a 2 kW rod on a plug too, as the bench runs it: the rod's draw is in the
    house's load; on a clear morning it runs, only on surplus, and the car still charges; on
    an overcast one it stays off; under broken cloud some of its hours are not on surplus."""
    load = PluggedLoad(1)
    load.on = True
    assert load.power(MORNING[0]) == HouseLoad(1).power(MORNING[0]) + ROD

    for p in plug_rows(Sky.CLEAR, 1, DEFAULTS, *MORNING):
        assert p.hours_on > 0.25, p
        assert p.hours_on_surplus == pytest.approx(p.hours_on), p
        assert p.figures.car > 1.0, p
    assert all(p.hours_on == 0.0 for p in plug_rows(Sky.OVERCAST, 1, DEFAULTS, *MORNING))
    for p in plug_rows(Sky.BROKEN, 1, DEFAULTS, *MORNING):  # shades within its 5 minutes on
        assert 0.0 < p.hours_on_surplus < p.hours_on, p
