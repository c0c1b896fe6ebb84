"""The dispatch policy as a pure function over simulated evenings: plain values, a fake clock
stepping a few seconds at a time, no broker."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from wattbus.models import DispatchKind, DispatchWindow, TariffState
from wattbus_controller.dispatch import (
    DispatchDecision,
    DispatchInputs,
    DispatchMemory,
    DispatchSettings,
    in_cheap_hours,
    next_cheap_start,
    step,
)

S = DispatchSettings(tariff="kraken", batteries=("powerwall",))
DAY = datetime(2026, 11, 25, tzinfo=UTC)  # winter: London is on UTC
STEP = timedelta(seconds=5)


def hm(h: int, m: int = 0, s: int = 0, day: datetime = DAY) -> datetime:
    return day + timedelta(hours=h, minutes=m, seconds=s)


def smart(
    start: datetime, end: datetime, kind: DispatchKind = DispatchKind.SMART
) -> DispatchWindow:
    return DispatchWindow(start=start, end=end, kind=kind)


def tariff(
    now: datetime,
    *windows: DispatchWindow,
    device_state: str | None = None,
    source: str | None = "flex",
) -> TariffState:
    live = [w for w in windows if w.end > now]
    current = next((w for w in live if w.start <= now), None)
    return TariffState(
        ts=now,
        windows=live,
        active=current is not None,
        current=current,
        device_state=device_state,
        source=source,
        fetched=now,
    )


World = Callable[[datetime], DispatchInputs]


def world(
    windows: Callable[[datetime], list[DispatchWindow]], car: Callable[[datetime], bool]
) -> World:
    def at(now: datetime) -> DispatchInputs:
        return DispatchInputs(tariff(now, *windows(now)), True, car(now), "charger zappi")

    return at


def run(
    w: World, start: datetime, end: datetime, memory: DispatchMemory | None = None
) -> list[tuple[datetime, datetime]]:
    """The spans the policy held, from a step every 5 s."""
    m = memory or DispatchMemory()
    spans: list[tuple[datetime, datetime]] = []
    held_since: datetime | None = None
    now = start
    while now < end:
        m, d = step(S, w(now), m, now)
        if d.hold and held_since is None:
            held_since = now
        if not d.hold and held_since is not None:
            spans.append((held_since, now))
            held_since = None
        now += STEP
    if held_since is not None:
        spans.append((held_since, end))
    return spans


def always(_: datetime) -> bool:
    return True


def between(a: datetime, b: datetime) -> Callable[[datetime], bool]:
    return lambda now: a <= now < b


def fixed(*ws: DispatchWindow) -> Callable[[datetime], list[DispatchWindow]]:
    return lambda _now: list(ws)


LEAD = timedelta(seconds=S.release_lead)


def test_holds_from_the_planned_start_to_just_before_the_windows_end() -> None:
    spans = run(world(fixed(smart(hm(18), hm(19))), always), hm(17, 50), hm(19, 10))
    # the car charging past the end: extended slot by slot; stopped here by the run's end
    assert spans[0][0] == hm(18)


def test_a_car_that_stops_with_the_window_is_released_just_before_its_end() -> None:
    w = world(fixed(smart(hm(18), hm(19))), between(hm(17), hm(18, 58)))
    assert run(w, hm(17, 50), hm(19, 30)) == [(hm(18), hm(19) - LEAD)]


def test_no_hold_while_the_car_is_idle_and_from_its_late_start() -> None:
    w = world(fixed(smart(hm(18), hm(20))), between(hm(18, 40), hm(19, 45)))
    assert run(w, hm(17, 50), hm(20, 30)) == [(hm(18, 40), hm(20) - LEAD)]


def test_a_car_finishing_early_is_released_at_the_next_slot_boundary_not_mid_slot() -> None:
    w = world(fixed(smart(hm(18), hm(21))), between(hm(17), hm(18, 40)))
    assert run(w, hm(17, 50), hm(21, 30)) == [(hm(18), hm(19) - LEAD)]


def test_a_window_running_past_its_end_extends_slot_by_slot_while_the_car_charges() -> None:
    w = world(fixed(smart(hm(18), hm(19))), between(hm(17), hm(19, 40)))
    assert run(w, hm(17, 50), hm(21)) == [(hm(18), hm(20) - LEAD)]


def test_a_window_withdrawn_while_held_ends_the_hold_at_the_slot_boundary() -> None:
    def windows(now: datetime) -> list[DispatchWindow]:
        return [smart(hm(18), hm(21))] if now < hm(18, 10) else []

    spans = run(world(windows, always), hm(17, 50), hm(21, 30))
    assert spans == [(hm(18), hm(18, 30) - LEAD)]  # the car still charges: never a stuck hold


def test_a_window_cut_short_follows_its_new_end() -> None:
    def windows(now: datetime) -> list[DispatchWindow]:
        return [smart(hm(18), hm(21) if now < hm(18, 10) else hm(19))]

    w = world(windows, between(hm(17), hm(18, 50)))
    assert run(w, hm(17, 50), hm(21, 30)) == [(hm(18), hm(19) - LEAD)]


def test_a_window_moved_later_while_held_is_held_on_into_its_new_slots() -> None:
    """Moved from 18:00-19:00 to 18:30-19:30 at 18:10: the hold runs to 18:30 and on into the
    window starting there, rather than ending at 18:29 and starting again at 18:30."""

    def windows(now: datetime) -> list[DispatchWindow]:
        return [smart(hm(18), hm(19)) if now < hm(18, 10) else smart(hm(18, 30), hm(19, 30))]

    w = world(windows, between(hm(17), hm(19, 10)))
    assert run(w, hm(17, 50), hm(20)) == [(hm(18), hm(19, 30) - LEAD)]


def test_a_window_that_appears_after_its_start_is_acted_on_at_once() -> None:
    def windows(now: datetime) -> list[DispatchWindow]:
        return [smart(hm(18), hm(19))] if now >= hm(18, 12) else []

    w = world(windows, between(hm(17), hm(18, 55)))
    assert run(w, hm(17, 50), hm(19, 30)) == [(hm(18, 12), hm(19) - LEAD)]


def test_a_boost_is_not_cheap_and_gets_no_dispatch_hold() -> None:
    w = world(fixed(smart(hm(18), hm(19), DispatchKind.BOOST)), always)
    assert run(w, hm(17, 50), hm(19, 30)) == []
    _, d = step(S, w(hm(18, 5)), DispatchMemory(), hm(18, 5))
    assert "boost window running: not a cheap-rate dispatch" in d.reason


def test_the_devices_own_state_is_a_second_sign_when_the_list_fails() -> None:
    def at(now: datetime) -> DispatchInputs:
        running = hm(18) <= now < hm(18, 50)
        state = "SMART_CONTROL_IN_PROGRESS" if running else "SMART_CONTROL_CAPABLE"
        return DispatchInputs(
            tariff(now, device_state=state, source=None), True, True, "charger zappi"
        )

    spans = run(at, hm(17, 50), hm(20))
    # held slot by slot while the car draws (it never stops here): from the first sign on
    assert spans[0][0] == hm(18)
    _m, d = step(S, at(hm(18, 1)), DispatchMemory(), hm(18, 1))
    assert d.hold and d.sign == "device_state" and "planned list failed" in d.reason


def test_nothing_changes_in_the_cheap_rate_hours_and_midnight_releases() -> None:
    w = world(fixed(smart(hm(23), hm(25)), smart(hm(29), hm(31))), always)
    spans = run(w, hm(22, 50), hm(31, 30))
    assert spans[0] == (hm(23), hm(24) - LEAD)  # released for the overnight rate
    assert spans[1][0] == hm(30)  # 06:00: the cheap hours are over


def test_cheap_hours_follow_british_summer_time() -> None:
    summer = datetime(2026, 7, 1, tzinfo=UTC)
    assert in_cheap_hours(S, hm(23, 30, day=summer))  # 00:30 BST
    assert not in_cheap_hours(S, hm(5, 30, day=summer))  # 06:30 BST
    assert next_cheap_start(S, hm(20, day=summer)) == hm(23, day=summer)


def test_on_the_clock_change_days_the_cheap_hours_are_still_local() -> None:
    spring = datetime(2026, 3, 29, tzinfo=UTC)  # 01:00 GMT becomes 02:00 BST
    assert in_cheap_hours(S, hm(4, 30, day=spring))  # 05:30 BST
    assert not in_cheap_hours(S, hm(5, 0, day=spring))  # 06:00 BST
    autumn = datetime(2026, 10, 25, tzinfo=UTC)  # 02:00 BST becomes 01:00 GMT
    assert in_cheap_hours(S, hm(5, 30, day=autumn))  # 05:30 GMT
    assert next_cheap_start(S, hm(20, day=autumn)) == hm(24, day=autumn)  # midnight GMT
    assert next_cheap_start(S, hm(20, day=spring - timedelta(days=1))) == spring  # GMT still


def test_a_silent_tariff_places_no_hold_and_ends_one_at_the_boundary() -> None:
    def at(now: datetime) -> DispatchInputs:
        t = tariff(now, smart(hm(18), hm(21)))
        if now >= hm(18, 10):
            t = t.model_copy(update={"fetched": hm(17)})  # the list is no longer read
        return DispatchInputs(t, True, True, "charger zappi")

    spans = run(at, hm(17, 50), hm(21))
    assert spans == [(hm(18), hm(18, 30) - LEAD)]
    _, d = step(S, at(hm(19)), DispatchMemory(), hm(19))
    assert not d.hold and "not read for over 45 min" in d.reason


def test_an_offline_tariff_bridge_places_no_hold() -> None:
    w = DispatchInputs(tariff(hm(18), smart(hm(18), hm(19))), False, True, "charger zappi")
    _, d = step(S, w, DispatchMemory(), hm(18, 1))
    assert not d.hold and d.reason == "tariff kraken offline"


def test_a_restart_mid_window_resumes_the_same_hold_from_memory() -> None:
    w = world(fixed(smart(hm(18), hm(19))), between(hm(17), hm(18, 58)))
    m, d = step(S, w(hm(18, 20)), DispatchMemory(), hm(18, 20))
    reloaded = DispatchMemory.model_validate_json(m.model_dump_json())
    assert reloaded == m and d.hold
    assert run(w, hm(18, 20), hm(19, 30), reloaded) == [(hm(18, 20), hm(19) - LEAD)]


def test_the_hold_is_steady_while_it_lasts() -> None:
    """One hold, one release: the battery is written only on a change."""
    decisions: list[DispatchDecision] = []
    m = DispatchMemory()
    w = world(fixed(smart(hm(18), hm(19)), smart(hm(19), hm(19, 30))), between(hm(17), hm(19, 20)))
    now = hm(17, 55)
    while now < hm(20):
        m, d = step(S, w(now), m, now)
        decisions.append(d)
        now += timedelta(seconds=1)
    changes = sum(1 for a, b in itertools.pairwise(decisions) if a.hold != b.hold)
    assert changes == 2


def test_a_tariff_bridge_offline_for_a_moment_does_not_end_a_hold_under_way() -> None:
    """A bridge that restarts says `offline` first; its last list, read minutes ago, still
    says what runs now. No new hold is placed on it, but one under way keeps to it."""
    fresh = tariff(hm(18), smart(hm(18), hm(19)))
    m, d = step(S, DispatchInputs(fresh, True, True, "charger zappi"), DispatchMemory(), hm(18))
    assert d.hold
    offline = DispatchInputs(fresh, False, True, "charger zappi")
    m, d = step(S, offline, m, hm(18, 29, 30))
    assert d.hold and m.until == hm(19)
