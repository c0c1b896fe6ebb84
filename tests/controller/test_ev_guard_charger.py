"""The EV guard on a charger's own signal, and its fallback to the threshold: plain values and
a fake clock, no broker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from wattbus.models import ChargerState, MeterState
from wattbus_controller.ev_guard import (
    Decision,
    GuardInputs,
    GuardMemory,
    GuardSettings,
    step,
    trusted_charger,
)

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
S = GuardSettings(threshold=5000, confirm=3, release=10, stale_after=30, charger="smartevse")
IDLE_HOUSE = 600.0  # W, far below the threshold: only the charger can start a session
CAR_HOUSE = 9000.0  # W, far above it


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def inputs(
    t: float,
    charging: bool | None,
    power: float = IDLE_HOUSE,
    *,
    online: bool | None = True,
    charger_t: float | None = None,
    meter_t: float | None = None,
) -> GuardInputs:
    """A meter reading at `t` (or `meter_t`) and, unless `charging` is None, a charger state."""
    meter = MeterState(ts=at(t if meter_t is None else meter_t), power=power)
    charger = None
    if charging is not None:
        charger = ChargerState(ts=at(t if charger_t is None else charger_t), charging=charging)
    return GuardInputs(meter, {}, charger, online)


def run(
    readings: Sequence[GuardInputs], s: GuardSettings = S, memory: GuardMemory | None = None
) -> list[tuple[GuardMemory, Decision]]:
    """One reading a second, from t=0; memory and decision after each."""
    m = memory or GuardMemory()
    out = []
    for t, reading in enumerate(readings):
        m, d = step(s, reading, m, at(t))
        out.append((m, d))
    return out


def test_a_charger_that_charges_starts_the_session_at_once() -> None:
    """No confirm wait, and no house power above the threshold needed."""
    _, d = run([inputs(0, True)])[0]
    assert d.hold is True and d.charging
    assert d.signal == "charger"
    assert d.reason == "charger smartevse charging"


def test_a_charger_that_does_not_charge_outweighs_a_high_house_power() -> None:
    """A heat pump or an oven above the threshold is no car: the charger knows."""
    results = run([inputs(t, False, CAR_HOUSE) for t in range(10)])
    assert [d.hold for _, d in results] == [False] * 10
    assert results[-1][1].signal == "charger"
    assert results[-1][1].reason == "idle: charger smartevse not charging"


def test_a_charger_that_stops_ends_the_session_after_release() -> None:
    results = run([inputs(0, True)] + [inputs(t, False) for t in range(1, 13)])
    holds = [d.hold for _, d in results]
    # not charging from t=1; the session ends at t=11 (release 10 s later)
    assert holds == [True] * 11 + [False] * 2
    assert results[5][1].reason == "charger smartevse not charging, releasing"
    assert results[11][1].reason == "charger smartevse not charging for 10 s"


def test_a_brief_pause_of_the_car_keeps_the_session() -> None:
    readings = [inputs(0, True)] + [inputs(t, False) for t in range(1, 6)] + [inputs(6, True)]
    readings += [inputs(t, False) for t in range(7, 15)]
    results = run(readings)
    assert all(d.hold for _, d in results)
    assert {m.changed_at for m, _ in results} == {at(0)}  # one session, never restarted


@pytest.mark.parametrize(
    ("reading", "why"),
    [
        (inputs(40, True, online=False), "charger smartevse offline"),
        (inputs(40, True, charger_t=0), "charger smartevse silent for over 30 s"),
        (inputs(40, None), "charger smartevse unknown"),
    ],
    ids=["offline", "stale", "unknown"],
)
def test_a_charger_that_cannot_be_trusted_falls_back_to_the_threshold(
    reading: GuardInputs, why: str
) -> None:
    _, d = step(S, reading, GuardMemory(), at(40))
    assert d.hold is False  # the charger says charging, the house does not
    assert d.signal == "threshold"
    assert d.reason == f"{why}; idle: house 600 W"


def test_the_fallback_detects_a_car_by_the_threshold() -> None:
    results = run([inputs(t, True, CAR_HOUSE, online=False) for t in range(4)])
    assert [d.hold for _, d in results] == [False, False, False, True]  # after confirm (3 s)
    assert results[-1][1].reason == "charger smartevse offline; house 9000 W above 5000 W for 3 s"


def test_an_availability_not_heard_yet_does_not_stop_a_fresh_state() -> None:
    _, d = run([inputs(0, True, online=None)])[0]
    assert d.signal == "charger" and d.hold is True


def test_a_fresh_charger_detects_with_a_stale_meter() -> None:
    """The charger alone is enough: a dead meter does not hide a charging car."""
    _, d = step(S, inputs(60, True, meter_t=0), GuardMemory(), at(60))
    assert d.signal == "charger" and d.hold is True
    assert d.house_power is None


def test_no_usable_signal_holds_nothing() -> None:
    session = run([inputs(0, True)])[-1][0]
    _, d = step(S, inputs(60, True, online=False, meter_t=0), session, at(60))
    assert d.signal == "none" and d.hold is False
    assert d.reason == "charger smartevse offline; meter silent for over 30 s: not holding"


def test_a_session_goes_on_when_the_charger_drops_out_mid_session() -> None:
    """The fallback picks up the same session: the car still draws, nothing is announced
    twice; once the house is quiet, it ends after `release` as usual."""
    started = run([inputs(0, True)])[-1][0]
    gone = [inputs(t, True, CAR_HOUSE, online=False) for t in range(5)]
    gone += [inputs(t, True, IDLE_HOUSE, online=False) for t in range(5, 16)]
    results = run(gone, memory=started)
    assert [d.hold for _, d in results] == [True] * 15 + [False]
    assert results[4][0].changed_at == at(0)


def test_without_a_charger_its_state_is_not_read() -> None:
    s = GuardSettings(threshold=5000, confirm=3, release=10, stale_after=30)
    _, d = step(s, inputs(0, True), GuardMemory(), at(0))
    assert d.hold is False
    assert (d.signal, d.reason) == ("threshold", "idle: house 600 W")


def test_a_charger_stamped_far_ahead_is_not_trusted() -> None:
    """A bridge whose clock runs ahead would keep its last state fresh for as long as it is
    ahead, also after it died: such a state says nothing about now."""
    now = datetime(2026, 11, 25, 18, tzinfo=UTC)
    s = GuardSettings(charger="smartevse", stale_after=30.0)
    ahead = ChargerState(ts=now + timedelta(minutes=10), charging=True)
    state, why = trusted_charger(s, GuardInputs(None, {}, ahead, True), now)
    assert state is None
    assert why == "charger smartevse stamped 600 s ahead: clocks disagree"
