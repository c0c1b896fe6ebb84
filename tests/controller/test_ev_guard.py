"""The EV guard as a pure function: plain values and a fake clock, no broker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from wattbus.models import BatteryState, MeterState
from wattbus_controller.ev_guard import GuardInputs, GuardMemory, GuardSettings, house_power, step

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
S = GuardSettings(threshold=5000, confirm=3, release=10, stale_after=30)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def meter(power: float, t: float) -> MeterState:
    return MeterState(ts=at(t), power=power)


def battery(t: float, home: float = 0.0, grid_in: float = 0.0, hold: bool = False) -> BatteryState:
    return BatteryState(
        ts=at(t), soc=50, power=-home, output_home_power=home, grid_input_power=grid_in, hold=hold
    )


def run(
    powers: Sequence[float], s: GuardSettings = S, memory: GuardMemory | None = None
) -> list[tuple[GuardMemory, bool]]:
    """Feed one meter reading a second; return memory and hold after each."""
    m = memory or GuardMemory()
    out = []
    for t, p in enumerate(powers):
        m, d = step(s, GuardInputs(meter(p, t), {}), m, at(t))
        out.append((m, d.hold))
    return out


def test_idle_house_wants_no_hold() -> None:
    assert [h for _, h in run([300, 800, 4900])] == [False, False, False]


def test_charging_declared_after_confirm_period() -> None:
    holds = [h for _, h in run([300, 7000, 7000, 7000, 7000, 7000])]
    # above from t=1; confirmed at t=4 (3 s later)
    assert holds == [False, False, False, False, True, True]


def test_confirm_zero_holds_on_first_reading() -> None:
    s = GuardSettings(threshold=5000, confirm=0)
    assert [h for _, h in run([7000], s)] == [True]


def test_a_dip_restarts_confirmation() -> None:
    holds = [h for _, h in run([7000, 7000, 4000, 7000, 7000, 7000, 7000])]
    assert holds == [False, False, False, False, False, False, True]


def test_flapping_around_threshold_during_session_does_not_release() -> None:
    powers = [7000] * 4 + [4900, 5100] * 10
    results = run(powers)
    assert all(m.charging for m, _ in results[3:])


def test_release_after_release_period_below() -> None:
    powers = [7000] * 4 + [300] * 12
    results = run(powers)
    charging = [m.charging for m, _ in results]
    # declared at t=3, below from t=4, released at t=14 (10 s later)
    assert charging[3:14] == [True] * 11
    assert charging[14] is False
    assert results[14][1] is False


def test_battery_covering_the_car_cannot_hide_it() -> None:
    m = GuardMemory()
    for t in range(5):
        inputs = GuardInputs(meter(3600, t), {"zendure": battery(t, home=2400)})
        m, d = step(S, inputs, m, at(t))
    assert d.charging and d.hold is True
    assert d.house_power == 6000


def test_battery_charging_from_the_house_is_not_house_consumption() -> None:
    inputs = GuardInputs(meter(5500, 0), {"zendure": battery(0, grid_in=1200)})
    assert house_power(inputs, at(0), 30) == 4300


def test_stale_meter_stops_asserting() -> None:
    m = run([7000] * 5)[-1][0]
    assert m.charging
    _, d = step(S, GuardInputs(meter(7000, 4), {}), m, at(40))
    assert d.hold is False
    assert "silent" in d.reason


def test_stale_battery_is_left_out_of_house_power() -> None:
    inputs = GuardInputs(meter(1000, 100), {"zendure": battery(0, home=2000)})
    assert house_power(inputs, at(100), 30) == 1000


def test_restart_mid_session_resumes_from_memory() -> None:
    """The memory is persisted as JSON; a restart reloads it and the session goes on."""
    m = run([7000] * 5)[-1][0]
    reloaded = GuardMemory.model_validate_json(m.model_dump_json())
    m2, d = step(S, GuardInputs(meter(7000, 60), {}), reloaded, at(60))
    assert d.hold is True and m2.charging
    assert m2.changed_at == m.changed_at  # no new session: nothing saved twice
