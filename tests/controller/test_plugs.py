"""Plugs on surplus as a pure function: plain states, a fake time, no broker."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from wattbus.models import BatteryState, MeterState, PlugState
from wattbus_controller.plugs import PlugMemory, PlugSettings, PlugsInputs, PlugsSettings, step

NOON = datetime(2026, 6, 21, 11, tzinfo=UTC)  # 12:00 in London (BST)
LONDON = ZoneInfo("Europe/London")
ROD = 2000.0  # W a heating rod draws


def settings(**rule: object) -> PlugsSettings:
    return PlugsSettings(plugs={"rod": PlugSettings(**rule)}, timezone=LONDON)  # type: ignore[arg-type]


def inputs(
    grid: float | None,
    on: bool = False,
    soc: float | None = None,
    battery_power: float = 0.0,
    reserve: float = 0.0,
    at: datetime = NOON,
) -> PlugsInputs:
    plug = PlugState(ts=at, on=on, power=ROD if on else 0.0)
    meter = None if grid is None else MeterState(ts=at, power=grid)
    battery = None if soc is None else BatteryState(ts=at, soc=soc, power=battery_power)
    return PlugsInputs({"rod": plug}, meter, battery, reserve)


def decide(s: PlugsSettings, i: PlugsInputs, m: dict[str, PlugMemory] | None = None,
           at: datetime = NOON) -> tuple[bool | None, str, dict[str, PlugMemory]]:  # fmt: skip
    memory, decisions = step(s, i, m or {}, at)
    return decisions["rod"].on, decisions["rod"].reason, memory


def test_on_at_the_surplus_that_covers_it_and_not_below() -> None:
    assert decide(settings(), inputs(-2500.0))[0] is True
    on, why, _ = decide(settings(), inputs(-1500.0))
    assert on is False
    assert why == "surplus 1500 W < 2000 W"


def test_off_once_it_would_import_but_not_before_its_minimum_on_time() -> None:
    s = settings(min_on=300.0)
    _, _, m = decide(s, inputs(-2500.0))  # switched on at noon
    soon = NOON + timedelta(seconds=100)
    on, why, m = decide(s, inputs(500.0, on=True, at=soon), m, soon)  # importing 500 W for it
    assert on is True
    assert why.endswith("on for 200 s more")
    later = NOON + timedelta(seconds=301)
    on, why, _ = decide(s, inputs(500.0, on=True, at=later), m, later)
    assert on is False
    assert why == "surplus 1500 W < 2000 W"  # its own 2000 W counted back


def test_it_rests_its_minimum_off_time_before_it_runs_again() -> None:
    s = settings(min_off=300.0)
    _, _, m = decide(s, inputs(500.0, on=True))  # off at noon
    soon = NOON + timedelta(seconds=60)
    on, _, m = decide(s, inputs(-3000.0, at=soon), m, soon)
    assert on is False
    later = NOON + timedelta(seconds=300)
    assert decide(s, inputs(-3000.0, at=later), m, later)[0] is True


def test_only_inside_its_hours_and_after_its_start() -> None:
    windows = ((time(13, 0), time(16, 0)),)
    on, why, _ = decide(settings(windows=windows), inputs(-3000.0))  # 12:00 local
    assert (on, why) == (False, "outside its hours")
    at = NOON + timedelta(hours=2)  # 14:00 local
    assert decide(settings(windows=windows), inputs(-3000.0, at=at), at=at)[0] is True
    assert decide(settings(start=time(12, 30)), inputs(-3000.0))[0] is False
    night = ((time(22, 0), time(2, 0)),)  # across midnight
    late = NOON + timedelta(hours=12)  # 00:00 local
    assert decide(settings(windows=night), inputs(-3000.0, at=late), at=late)[0] is True


def test_the_house_battery_needs_its_soc_and_fills_first_until_nearly_full() -> None:
    on, why, _ = decide(settings(min_soc=60.0), inputs(-3000.0, soc=50.0))
    assert (on, why) == (False, "battery 50 % < 60 %")
    # 1000 W exported, the battery takes 2000 W: not enough until the battery is nearly full
    charging = PlugsSettings(plugs={"rod": PlugSettings()}, timezone=LONDON, battery_full_soc=95)
    assert decide(charging, inputs(-1000.0, soc=80.0, battery_power=2000.0))[0] is False
    assert decide(charging, inputs(-1000.0, soc=96.0, battery_power=2000.0))[0] is True


def test_the_car_comes_first_unless_configured_otherwise() -> None:
    assert decide(settings(), inputs(-3000.0, reserve=1500.0))[0] is False
    plug_first = PlugsSettings(plugs={"rod": PlugSettings()}, timezone=LONDON, car_first=False)
    assert decide(plug_first, inputs(-3000.0, reserve=1500.0))[0] is True


def test_a_silent_meter_switches_it_off_and_an_unknown_plug_is_left() -> None:
    on, why, _ = decide(settings(), inputs(None, on=True))
    assert (on, why) == (False, "meter silent: off")
    unknown = PlugsInputs({"rod": None}, MeterState(ts=NOON, power=-5000.0), None, 0.0)
    assert decide(settings(), unknown)[0] is None


def test_plugs_share_the_surplus_in_their_order() -> None:
    s = PlugsSettings(plugs={"a": PlugSettings(), "b": PlugSettings()}, timezone=LONDON)
    off = {p: PlugState(ts=NOON, on=False, power=0.0) for p in ("a", "b")}
    i = PlugsInputs(off, MeterState(ts=NOON, power=-3000.0), None, 0.0)
    _, decisions = step(s, i, {}, NOON)
    assert (decisions["a"].on, decisions["b"].on) == (True, False)  # 1000 W left for b
