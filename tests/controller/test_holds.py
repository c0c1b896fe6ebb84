"""Which command a battery gets, as a pure function: plain values and a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wattbus.models import BatteryState
from wattbus_controller.holds import RESEND_AFTER, Plan, Sent, plan

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
LEASE = 90.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def battery(hold: bool) -> BatteryState:
    return BatteryState(ts=T0, soc=50, power=0, hold=hold)


RELEASED_AT_0 = Sent(hold=False, at=T0)


def test_a_release_the_battery_ignores_is_sent_again_every_resend_period() -> None:
    """The first release was lost: the battery still reports the hold."""
    still_held = battery(hold=True)
    waiting = plan(False, still_held, False, True, RELEASED_AT_0, at(RESEND_AFTER - 1), LEASE)
    assert waiting == Plan(None, held=False, releasing=True)
    again = plan(False, still_held, False, True, RELEASED_AT_0, at(RESEND_AFTER), LEASE)
    assert again == Plan(False, held=False, releasing=True)


def test_the_release_ends_when_the_battery_reports_no_hold() -> None:
    free = battery(hold=False)
    p = plan(False, free, False, True, RELEASED_AT_0, at(60), LEASE)
    assert p == Plan(None, held=False, releasing=False)


def test_ending_a_hold_sends_the_release_at_once_and_waits_for_the_battery() -> None:
    held_at_0 = Sent(hold=True, at=T0)
    p = plan(False, battery(hold=True), True, False, held_at_0, at(1), LEASE)
    assert p == Plan(False, held=False, releasing=True)


def test_a_battery_not_heard_from_keeps_getting_the_release() -> None:
    """A restart in the middle of a release: no state yet, so the release is not done."""
    p = plan(None, None, False, True, RELEASED_AT_0, at(RESEND_AFTER), LEASE)
    assert p == Plan(False, held=False, releasing=True)


def test_in_auto_a_hold_the_guard_did_not_place_is_released() -> None:
    """The controller owns battery holds unless its mode is `off`."""
    p = plan(False, battery(hold=True), False, False, None, T0, LEASE)
    assert p == Plan(False, held=False, releasing=True)


def test_in_off_a_hold_the_guard_did_not_place_is_left_alone() -> None:
    p = plan(None, battery(hold=True), False, False, None, T0, LEASE)
    assert p == Plan(None, held=False, releasing=False)


def test_in_off_the_guards_own_hold_is_released_until_the_battery_shows_it() -> None:
    first = plan(None, battery(hold=True), True, False, Sent(True, T0), at(1), LEASE)
    assert first == Plan(False, held=False, releasing=True)
    lost = plan(None, battery(hold=True), False, True, Sent(False, at(1)), at(7), LEASE)
    assert lost == Plan(False, held=False, releasing=True)
    done = plan(None, battery(hold=False), False, True, Sent(False, at(7)), at(8), LEASE)
    assert done == Plan(None, held=False, releasing=False)


def test_a_free_battery_the_guard_does_not_want_held_gets_nothing() -> None:
    p = plan(False, battery(hold=False), False, False, None, T0, LEASE)
    assert p == Plan(None, held=False, releasing=False)


def test_a_hold_is_renewed_a_third_into_its_lease() -> None:
    held_at_0 = Sent(hold=True, at=T0)
    assert plan(True, battery(True), True, False, held_at_0, at(29), LEASE).send is None
    assert plan(True, battery(True), True, False, held_at_0, at(30), LEASE).send is True


def test_a_hold_the_battery_does_not_show_is_sent_again() -> None:
    held_at_0 = Sent(hold=True, at=T0)
    assert plan(True, battery(False), True, False, held_at_0, at(4), LEASE).send is None
    assert plan(True, battery(False), True, False, held_at_0, at(5), LEASE).send is True


def test_holding_again_during_a_release_sends_the_hold_at_once() -> None:
    p = plan(True, battery(True), False, True, RELEASED_AT_0, at(1), LEASE)
    assert p == Plan(True, held=True, releasing=False)
