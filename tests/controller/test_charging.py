"""The charging strategies as pure functions over scripted minutes of sun: the controller's
own policy, fed as its shell feeds it (solar_run.WattbusRules), against a car that ramps to
what it is offered and a meter that shows the result a step later. No broker, no clock."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from wattbus.models import BatteryState, ChargerState, MeterState
from wattbus.models import ChargingStrategy as Strategy
from wattbus_controller import charging, clouds
from wattbus_controller.charging import ChargerSettings, ChargingSettings
from wattbus_controller.surplus import BatteryPriority, surplus
from wattbus_simulator.solar_day import Car, HouseBattery, HouseLoad, SolarDay
from wattbus_simulator.solar_run import CHARGER, DAY, WattbusRules

NOON = 12 * 3600.0
HOUSE = 350.0  # W the house draws


@dataclass
class Sun:
    f: Callable[[float], float]

    def power(self, t: float) -> float:
        return self.f(t - NOON)  # seconds from the start of a scene


def steady(w: float) -> Sun:
    return Sun(lambda t: w)


@dataclass(frozen=True)
class Moment:
    t: float  # s from the start
    current: float | None
    phases: int
    reason: str
    grid: float
    car: float


def scene(
    sun: Sun,
    seconds: float,
    car: Car | None = None,
    battery: HouseBattery | None = None,
    priority: BatteryPriority | None = None,
    dt: float = 1.0,
    pv_peak: float = 20_000.0,
    charger_every: float = 0.0,
    measures_power: bool = True,
    **chosen: object,
) -> tuple[WattbusRules, list[Moment]]:
    """`seconds` of the scene, a car plugged in from the start; `chosen` charger settings."""
    c = replace(ChargerSettings(), **chosen)  # type: ignore[arg-type]
    rules = WattbusRules(
        ChargingSettings(chargers={CHARGER: c}, pv_peak=pv_peak),
        priority or BatteryPriority(),
        charger_every=charger_every,
        measures_power=measures_power,
    )
    day = SolarDay(
        array=sun,
        load=HouseLoad(seed=0, base=HOUSE, events=0),
        battery=battery or HouseBattery(max_charge=0.0, max_discharge=0.0),
        car=car or Car(wanted=100_000.0),
        arrives=0.0,
    )
    t = NOON
    seen = day.step(t, dt, None, 3)
    moments = []
    while t < NOON + seconds:
        t += dt
        current, phases = rules.decide(seen, True, day.car.full)
        seen = day.step(t, dt, current, phases)
        assert rules.last is not None
        moments.append(Moment(t - NOON, current, phases, rules.last.reason, seen.grid, seen.car))
    return rules, moments


def first(moments: list[Moment], test: Callable[[Moment], bool]) -> Moment | None:
    return next((m for m in moments if test(m)), None)


def changes(moments: list[Moment]) -> int:
    return sum(1 for a, b in itertools.pairwise(moments) if a.current != b.current)


def starts(moments: list[Moment]) -> int:
    pairs = itertools.pairwise(moments)
    return sum(1 for a, b in pairs if a.current is None and b.current is not None)


# --- tracked: start, stop, the least current, steps


def test_tracked_starts_after_a_minute_of_surplus_at_the_current_it_covers() -> None:
    _, ms = scene(steady(HOUSE + 5000.0), 120, phases=3)
    start = first(ms, lambda m: m.current is not None)
    assert start is not None
    assert 60 <= start.t <= 62  # the start delay, counted from the first reading
    assert start.current == 7.0  # 5000 W on 3 phases is 7.2 A: whole amps, down
    assert start.phases == 3


def test_surplus_under_the_least_current_never_starts() -> None:
    _, ms = scene(steady(HOUSE + 4000.0), 600, phases=3)  # 6 A on 3 phases is 4140 W
    assert all(m.current is None for m in ms)
    assert "needs 4140 W" in ms[-1].reason


def test_a_shortfall_the_battery_covers_stops_only_after_the_stop_delay() -> None:
    sun = Sun(lambda t: HOUSE + (6000.0 if t < 300 else 2000.0))
    battery = HouseBattery(soc=60.0, max_charge=2500.0, max_discharge=2500.0)
    _, ms = scene(sun, 900, battery=battery, phases=3)
    stop = first(ms, lambda m: m.t > 300 and m.current is None)
    assert stop is not None
    assert 300 + 300 <= stop.t <= 300 + 302
    assert all(m.current == 6.0 for m in ms if 310 < m.t < stop.t)  # the least, meanwhile
    assert max(m.grid for m in ms if m.t > 310) <= 0.0  # the battery covered it all
    assert "for 300 s: stopped" in stop.reason


def test_a_shortfall_that_draws_on_the_grid_stops_after_a_minute() -> None:
    sun = Sun(lambda t: HOUSE + (6000.0 if t < 300 else 2000.0))
    _, ms = scene(sun, 700, phases=3)  # no battery: 2140 W from the grid at 6 A
    stop = first(ms, lambda m: m.t > 300 and m.current is None)
    assert stop is not None
    assert 300 + 60 <= stop.t <= 300 + 62
    assert "importing 2140 W for 60 s: stopped" in stop.reason


def test_the_current_is_within_the_chargers_range_and_steps() -> None:
    _, ms = scene(steady(HOUSE + 20_000.0), 200, phases=3, step=2.0, max_current=13.0)
    assert {m.current for m in ms if m.current is not None} == {12.0}


# --- where other tools trip


def test_steady_sun_settles_without_oscillating_evcc_8076() -> None:
    """evcc #8076: the charge power swings between over- and under-using the PV. Here a car
    that lags its current, and a charger read only every 10 s while the meter is read every
    second, settle on one current and stay."""
    car = Car(wanted=1e6, ramp=12.0)
    _, ms = scene(steady(HOUSE + 7000.0), 1800, car=car, charger_every=10.0, phases=3)
    settled = [m for m in ms if m.t > 300]
    assert changes(settled) == 0
    assert settled[0].current == 10.0  # 7000 W on 3 phases: 10.1 A
    assert max(m.grid for m in settled) <= 0.0  # never drawing on the grid for it


def test_the_current_goes_up_at_most_every_change_interval() -> None:
    sun = Sun(lambda t: HOUSE + 4500.0 + 40.0 * t)  # a step of 690 W every 17 s
    _, ms = scene(sun, 200, phases=3)
    pairs = itertools.pairwise(ms)
    ups = [b.t for a, b in pairs if a.current is not None and (b.current or 0) > a.current]
    assert len(ups) >= 5
    assert min(b - a for a, b in itertools.pairwise(ups)) >= 20.0


def test_a_surplus_on_a_step_boundary_does_not_flip_the_current() -> None:
    """6900 W is 10 A on 3 phases exactly; the sun's noise around it must not toggle 9 and
    10 A: going up takes a margin beyond the step."""
    sun = Sun(lambda t: HOUSE + 6900.0 + 60.0 * math.sin(t / 7.0))
    _, ms = scene(sun, 1800, phases=3)
    assert changes([m for m in ms if m.t > 300]) == 0


def test_a_charger_that_reports_no_power_is_not_stopped_evcc_29816() -> None:
    """evcc #29816: charging stops after about 30 s and loops through its disable delay. A
    charger that says it charges but reports no power, in enough sun: one start, no stop."""
    _, ms = scene(steady(HOUSE + 4500.0), 1200, measures_power=False, phases=3)
    assert starts(ms) == 1
    begun = first(ms, lambda m: m.current is not None)
    assert begun is not None
    assert all(m.current is not None for m in ms if m.t >= begun.t)


def test_back_to_three_phases_when_the_sun_returns_evcc_21328() -> None:
    """evcc #21328: a charger stuck on 1 phase after clouds until a restart."""
    sun = Sun(lambda t: HOUSE + (9000.0 if t < 900 or t >= 1800 else 2500.0))
    _, ms = scene(sun, 3000, phases="auto")
    assert first(ms, lambda m: m.t < 900 and m.phases == 3 and m.current is not None)
    assert first(ms, lambda m: 900 < m.t < 1800 and m.phases == 1 and m.current is not None)
    up = first(ms, lambda m: m.t > 1800 and m.phases == 3)
    assert up is not None
    assert up.t <= 1800 + 120 + 2  # the phase-up delay, nothing more
    assert ms[-1].phases == 3


def test_a_charge_the_surplus_cannot_hold_on_three_phases_goes_on_one() -> None:
    """A shade that leaves 2500 W: 6 A on three phases would import, 10 A on one does not.
    With phases switched by the surplus, the charge goes down to one phase, not off."""
    sun = Sun(lambda t: HOUSE + (7000.0 if t < 600 else 2500.0))
    _, ms = scene(sun, 900, phases="auto")
    down = first(ms, lambda m: m.t > 600 and m.phases == 1)
    assert down is not None
    assert down.t <= 600 + 62  # the import stop's minute, then one phase instead of a stop
    assert down.current == 10.0
    assert "on 1 phase" in down.reason
    assert all(m.current is not None for m in ms if m.t > 60)  # never stopped


def test_a_switch_to_three_phases_carries_the_surplus_current_not_the_most_evcc_7362() -> None:
    """evcc #7362: a 1p to 3p switch jumps to full power instead of the surplus."""
    sun = Sun(lambda t: HOUSE + (2000.0 if t < 600 else 5000.0))
    _, ms = scene(sun, 1200, phases="auto")
    switch = first(ms, lambda m: m.t > 600 and m.phases == 3)
    assert switch is not None
    assert switch.current == 7.0  # 5000 W on 3 phases, not 16 A
    assert max(m.grid for m in ms if m.t > switch.t + 10) <= 0.0


def test_surplus_beyond_the_batterys_charge_power_goes_to_the_car_evcc_21718() -> None:
    """evcc #21718: surplus above the house battery's maximum charge power is not given to
    the car. Below its priority SoC the battery takes its 2500 W; the car gets the rest."""
    battery = HouseBattery(soc=40.0, max_charge=2500.0, max_discharge=2500.0)
    priority = BatteryPriority(priority_soc=80.0, battery_max_charge=2500.0)
    _, ms = scene(steady(HOUSE + 6000.0), 600, battery=battery, priority=priority, phases=1)
    late = ms[-1]
    assert late.current == 15.0  # 3500 W on 1 phase: 15.2 A
    assert late.grid == pytest.approx(-(6000.0 - 2500.0 - late.car), abs=1.0)


def test_below_its_priority_soc_the_battery_fills_first() -> None:
    battery = HouseBattery(soc=40.0, max_charge=2500.0, max_discharge=2500.0)
    priority = BatteryPriority(priority_soc=80.0, battery_max_charge=2500.0)
    _, ms = scene(steady(HOUSE + 3000.0), 300, battery=battery, priority=priority, phases=1)
    assert all(m.current is None for m in ms)  # 500 W left over: under 6 A on one phase


def test_the_battery_may_help_the_car_through_a_dip_but_never_start_it() -> None:
    battery = HouseBattery(soc=90.0, max_charge=2500.0, max_discharge=2500.0)
    priority = BatteryPriority(priority_soc=80.0, battery_max_charge=2500.0, battery_assist=1500.0)
    dip = Sun(lambda t: HOUSE + (5000.0 if t < 300 else 3000.0))
    _, ms = scene(dip, 900, battery=battery, priority=priority, phases=3)
    assert all(m.current == 6.0 for m in ms if m.t > 320)  # 3000 + 1500 covers 4140 W
    _, never = scene(steady(HOUSE + 3000.0), 300, battery=battery, priority=priority, phases=3)
    assert all(m.current is None for m in never)


def test_currents_are_worked_out_on_the_phases_the_car_draws() -> None:
    """A car on two phases of a three-phase charger: 4700 W is 10 A on each of the two."""
    _, ms = scene(steady(HOUSE + 4700.0), 300, car=Car(wanted=1e6, phases=2), phases=3)
    assert ms[-1].current == 10.0
    assert ms[-1].grid <= 0.0


# --- strategies


@pytest.mark.parametrize(
    ("strategy", "current", "phases"),
    [
        (Strategy.OFF, None, 3),
        (Strategy.FAST, 16.0, 3),
        (Strategy.SLOW, 6.0, 1),
        (Strategy.MIN_PV, 6.0, 1),
    ],
)
def test_each_strategy_without_sun(strategy: Strategy, current: float | None, phases: int) -> None:
    _, ms = scene(steady(0.0), 30, strategy=strategy, phases="auto")
    assert ms[-1].current == current
    assert ms[-1].phases == phases


def test_min_pv_charges_at_once_and_takes_more_from_surplus() -> None:
    _, ms = scene(steady(HOUSE + 3000.0), 120, strategy=Strategy.MIN_PV, phases=1)
    assert ms[0].current == 13.0  # 3000 W on 1 phase: at once, no start delay
    _, dark = scene(steady(0.0), 60, strategy=Strategy.MIN_PV, phases=1)
    assert dark[-1].current == 6.0


def test_slow_becomes_tracked_with_a_full_enough_battery_and_a_clear_sky() -> None:
    battery = HouseBattery(soc=85.0, max_charge=0.0, max_discharge=0.0)
    _, ms = scene(steady(HOUSE + 7000.0), 200, battery=battery, strategy=Strategy.SLOW, phases=3)
    assert ms[-1].current == 10.0
    assert "slow as tracked" in ms[-1].reason
    low = HouseBattery(soc=50.0, max_charge=0.0, max_discharge=0.0)
    _, ms = scene(steady(HOUSE + 7000.0), 200, battery=low, strategy=Strategy.SLOW, phases=3)
    assert ms[-1].current == 6.0


def test_every_strategy_stops_when_the_car_is_full() -> None:
    car = Car(wanted=500.0)  # a few minutes at 6 A
    _, ms = scene(steady(0.0), 2400, car=car, strategy=Strategy.SLOW, phases=1)
    assert car.full
    assert ms[-1].current is None
    assert "car full" in ms[-1].reason


# --- the policy's own edges, without the household


def _charger(now_s: float = 0.0, **fields: object) -> ChargerState:
    base: dict[str, object] = {"charging": False, "plugged": True}
    return ChargerState(ts=DAY + timedelta(seconds=now_s), **(base | fields))


def _inputs(charger: ChargerState | None, grid: float | None) -> charging.ChargingInputs:
    now = DAY
    share = None
    if grid is not None:
        meter = MeterState(ts=now, power=grid)
        share = surplus(BatteryPriority(), meter, [charger] if charger else [], None)
    return charging.ChargingInputs({CHARGER: charger}, share, clouds.Sky(), None)


SETTINGS = ChargingSettings(chargers={CHARGER: ChargerSettings()})


def test_a_silent_meter_pauses_tracking_and_keeps_min_pv_at_the_least() -> None:
    _, targets = charging.step(SETTINGS, _inputs(_charger(), None), charging.ChargingMemory(), DAY)
    assert targets[CHARGER].action == "pause"
    assert "meter silent" in targets[CHARGER].reason
    mp = ChargingSettings(chargers={CHARGER: ChargerSettings(strategy=Strategy.MIN_PV)})
    _, targets = charging.step(mp, _inputs(_charger(), None), charging.ChargingMemory(), DAY)
    assert (targets[CHARGER].action, targets[CHARGER].current) == ("charge", 6.0)


def test_an_unknown_charger_is_left_alone() -> None:
    _, targets = charging.step(SETTINGS, _inputs(None, -5000.0), charging.ChargingMemory(), DAY)
    assert targets[CHARGER].action == "leave"


def test_the_chargers_own_range_narrows_the_configured_one() -> None:
    state = _charger(min_current=8.0, max_current=10.0)
    fast = ChargingSettings(chargers={CHARGER: ChargerSettings(strategy=Strategy.FAST)})
    _, targets = charging.step(fast, _inputs(state, 0.0), charging.ChargingMemory(), DAY)
    assert targets[CHARGER].current == 10.0
    slow = ChargingSettings(chargers={CHARGER: ChargerSettings(strategy=Strategy.SLOW)})
    _, targets = charging.step(slow, _inputs(state, 0.0), charging.ChargingMemory(), DAY)
    assert targets[CHARGER].current == 8.0


def test_two_chargers_share_the_surplus_in_their_order() -> None:
    s = ChargingSettings(
        chargers={"a": ChargerSettings(strategy=Strategy.MIN_PV, phases=1),
                  "b": ChargerSettings(strategy=Strategy.MIN_PV, phases=1)}
    )  # fmt: skip
    a, b = _charger(), _charger()
    meter = MeterState(ts=DAY, power=-4000.0)
    share = surplus(BatteryPriority(), meter, [a, b], None)
    inputs = charging.ChargingInputs({"a": a, "b": b}, share, clouds.Sky(), None)
    _, targets = charging.step(s, inputs, charging.ChargingMemory(), DAY)
    assert targets["a"].current == 16.0  # its most: 3680 W of the 4000
    assert targets["b"].current == 6.0  # what a leaves (320 W) is under its least


# --- clouds


def test_passing_clouds_are_told_from_a_clear_sky() -> None:
    sky = clouds.Sky()
    for i in range(60):  # ten minutes, swinging between sun and shadow
        pv = 8000.0 if (i // 6) % 2 == 0 else 2500.0
        sky = clouds.observe(sky, pv, 10_000.0, DAY + timedelta(seconds=10 * i))
    assert sky.cloudy
    assert sky.cut(10_000.0) == pytest.approx(0.25 * 5500.0)
    clear = clouds.Sky()
    for i in range(60):  # a clear morning's climb: 300 W in ten minutes
        clear = clouds.observe(clear, 5000.0 + 5 * i, 10_000.0, DAY + timedelta(seconds=10 * i))
    assert not clear.cloudy
    assert clear.cut(10_000.0) == 0.0


def test_a_sky_clears_only_well_below_the_cloud_mark() -> None:
    sky = clouds.Sky(cloudy=True)
    for i in range(70):  # swings of 15 % of the peak: not enough to call, too much to clear
        pv = 6000.0 if i % 2 else 4500.0
        sky = clouds.observe(sky, pv, 10_000.0, DAY + timedelta(seconds=10 * i))
    assert sky.cloudy
    for i in range(70, 140):
        sky = clouds.observe(sky, 6000.0, 10_000.0, DAY + timedelta(seconds=10 * i))
    assert not sky.cloudy


def test_without_a_pv_reading_the_sky_is_clear_once_the_window_empties() -> None:
    sky = clouds.Sky(cloudy=True, samples=(clouds.Sample(ts=DAY, pv=1000.0),))
    sky = clouds.observe(sky, None, 10_000.0, DAY + timedelta(seconds=clouds.WINDOW + 1))
    assert not sky.cloudy
    assert sky.samples == ()


def test_clouds_lower_the_current_tracked() -> None:
    def broken(t: float) -> float:
        return HOUSE + (9000.0 if (t // 120) % 2 == 0 else 5000.0)

    _, ms = scene(Sun(broken), 1800, phases=3, pv_peak=10_000.0)
    rules_clear, clear = scene(steady(HOUSE + 9000.0), 1800, phases=3, pv_peak=10_000.0)
    sunny_cloudy = [m.current for m in ms if m.t > 900 and (m.t // 120) % 2 == 0]
    assert max(c or 0 for c in sunny_cloudy) < clear[-1].current  # type: ignore[operator]
    assert rules_clear.memory.sky.cloudy is False


def test_slow_runs_as_tracked_on_the_battery_state_it_is_given() -> None:
    """The core hands the policy only fresh states (`wattbus.inputs.fresh`); the policy takes
    the one it is given as it is."""
    b = BatteryState(ts=DAY, soc=95.0, power=0.0)
    s = ChargingSettings(chargers={CHARGER: ChargerSettings(strategy=Strategy.SLOW)})
    meter = MeterState(ts=DAY, power=-8000.0)
    share = surplus(BatteryPriority(), meter, [_charger()], b)
    inputs = charging.ChargingInputs({CHARGER: _charger()}, share, clouds.Sky(), b)
    _, targets = charging.step(s, inputs, charging.ChargingMemory(), DAY)
    assert targets[CHARGER].strategy is Strategy.TRACKED
