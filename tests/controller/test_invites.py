"""Invites over simulated evenings: the dispatch policy and the invite planner run together as
the shell runs them, with plain values and a fake clock stepping 5 s at a time, no broker and
no mail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from wattbus.models import DispatchKind, DispatchWindow, TariffState
from wattbus_controller.dispatch import DispatchInputs, DispatchMemory, DispatchSettings, step
from wattbus_controller.invites import Action, Book, Status, plan, uid_of
from wattbus_controller.memory import Memory

S = DispatchSettings(tariff="kraken", batteries=("powerwall",))
DAY = datetime(2026, 11, 25, tzinfo=UTC)  # winter: London is on UTC
STEP = timedelta(seconds=5)
POWER = 7400.0  # W the charger draws while the car charges


def hm(h: int, m: int = 0, s: int = 0) -> datetime:
    return DAY + timedelta(hours=h, minutes=m, seconds=s)


def smart(
    start: datetime,
    end: datetime,
    kind: DispatchKind = DispatchKind.SMART,
    energy: float | None = None,
) -> DispatchWindow:
    return DispatchWindow(start=start, end=end, kind=kind, energy=energy)


def tariff(
    now: datetime, windows: list[DispatchWindow], device_state: str | None = None
) -> TariffState:
    live = [w for w in windows if w.end > now]
    return TariffState(ts=now, windows=live, active=False, device_state=device_state,
                       source="flex", fetched=now)  # fmt: skip


@dataclass
class Evening:
    windows: Callable[[datetime], list[DispatchWindow]]
    car: Callable[[datetime], bool]
    trusted: Callable[[datetime], bool] = lambda _now: True  # the tariff bridge is heard
    device_state: Callable[[datetime], str | None] = lambda _now: None
    book: Book | None = None

    def run(self, start: datetime, end: datetime) -> list[Action]:
        memory, book, actions = DispatchMemory(), self.book or {}, []
        now = start
        while now < end:
            t = tariff(now, self.windows(now), self.device_state(now))
            if not self.trusted(now):
                t = t.model_copy(update={"fetched": now - timedelta(hours=2)})
            inputs = DispatchInputs(t, True, self.car(now), "charger zappi")
            memory, _ = step(S, inputs, memory, now)
            power = POWER if self.car(now) else None
            book, done = plan("kraken", memory, t if self.trusted(now) else None, power, book, now)
            actions += done
            now += STEP
        self.book = book
        return actions


def until(t: datetime) -> Callable[[datetime], bool]:
    return lambda now: now < t


def fixed(*ws: DispatchWindow) -> Callable[[datetime], list[DispatchWindow]]:
    return lambda _now: list(ws)


def spans(actions: list[Action]) -> list[tuple[str, int, datetime, datetime]]:
    return [(a.kind, a.invite.sequence, a.invite.start, a.invite.end) for a in actions]


def test_one_invite_when_the_car_charges_in_a_window_and_none_more_when_it_runs_its_course() -> (
    None
):
    actions = Evening(fixed(smart(hm(18), hm(19))), until(hm(18, 58))).run(hm(17, 50), hm(19, 30))
    assert spans(actions) == [("send", 0, hm(18), hm(19))]
    (sent,) = actions
    assert sent.invite.uid == uid_of("kraken", hm(18)) == "kraken-20261125T180000Z@wattbus"
    assert sent.invite.energy == POWER  # 7.4 kW for an hour
    assert sent.invite.energy_from == "charger"


def test_a_window_that_moves_twice_is_one_uid_with_sequence_0_1_2() -> None:
    def windows(now: datetime) -> list[DispatchWindow]:
        end = hm(19) if now < hm(18, 10) else hm(19, 30) if now < hm(18, 20) else hm(20)
        return [smart(hm(18), end)]

    actions = Evening(windows, until(hm(19, 58))).run(hm(17, 50), hm(20, 30))
    assert spans(actions) == [
        ("send", 0, hm(18), hm(19)),
        ("update", 1, hm(18), hm(19, 30)),
        ("update", 2, hm(18), hm(20)),
    ]
    assert len({a.invite.uid for a in actions}) == 1


def test_a_window_the_supplier_cuts_short_is_an_update_at_once() -> None:
    def windows(now: datetime) -> list[DispatchWindow]:
        return [smart(hm(18), hm(21) if now < hm(18, 10) else hm(19))]

    actions = Evening(windows, until(hm(18, 58))).run(hm(17, 50), hm(21, 30))
    assert spans(actions) == [("send", 0, hm(18), hm(21)), ("update", 1, hm(18), hm(19))]


def test_a_window_withdrawn_before_it_ran_its_course_is_cancelled() -> None:
    def windows(now: datetime) -> list[DispatchWindow]:
        return [smart(hm(18), hm(21))] if now < hm(18, 10) else []

    actions = Evening(windows, until(hm(23))).run(hm(17, 50), hm(21, 30))
    assert spans(actions) == [("send", 0, hm(18), hm(21)), ("cancel", 1, hm(18), hm(21))]
    assert actions[1].invite.status is Status.CANCELLED


def test_a_car_that_stops_early_trims_the_invite_to_where_the_hold_ended() -> None:
    evening = Evening(fixed(smart(hm(18), hm(21))), until(hm(18, 40)))
    actions = evening.run(hm(17, 50), hm(21, 30))
    assert spans(actions) == [("send", 0, hm(18), hm(21)), ("trim", 1, hm(18), hm(19))]
    trimmed = actions[1].invite
    assert trimmed.energy == POWER  # the charger's 7.4 kW over the hour it really ran
    assert trimmed.status is Status.ENDED


def test_the_suppliers_energy_is_given_as_it_planned_it_also_when_trimmed() -> None:
    evening = Evening(fixed(smart(hm(18), hm(21), energy=20_000)), until(hm(18, 40)))
    actions = evening.run(hm(17, 50), hm(21, 30))
    assert [(a.invite.energy, a.invite.energy_from) for a in actions] == [(20_000, "supplier")] * 2


def test_no_figure_at_all_is_left_out_not_guessed() -> None:
    evening = Evening(fixed(smart(hm(18), hm(19))), until(hm(18, 58)))
    actions = evening.run(hm(17, 50), hm(18, 1))
    memory, _ = step(S, DispatchInputs(tariff(hm(18), evening.windows(hm(18))), True, True, "x"),
                     DispatchMemory(), hm(18))  # fmt: skip
    _, (sent,) = plan("kraken", memory, tariff(hm(18), evening.windows(hm(18))), None, {}, hm(18))
    assert sent.invite.energy is None and sent.invite.energy_from is None
    assert actions[0].invite.energy is not None  # with the charger's power it has one


def test_a_hold_extended_slot_by_slot_grows_the_invites_end() -> None:
    actions = Evening(fixed(smart(hm(18), hm(19))), until(hm(19, 40))).run(hm(17, 50), hm(21))
    assert spans(actions) == [
        ("send", 0, hm(18), hm(19)),
        ("update", 1, hm(18), hm(19, 30)),
        ("update", 2, hm(18), hm(20)),
    ]  # and it ended where the last update says: no trim


def test_the_devices_own_sign_gives_an_invite_for_its_slots() -> None:
    def state(now: datetime) -> str | None:
        return "SMART_CONTROL_IN_PROGRESS" if hm(18) <= now < hm(18, 50) else None

    evening = Evening(fixed(), until(hm(18, 50)), device_state=state)
    actions = evening.run(hm(17, 50), hm(20))
    assert spans(actions)[0] == ("send", 0, hm(18), hm(18, 30))
    assert spans(actions)[-1][3] == hm(19)  # held for the slot it was last seen in, no cancel
    assert all(a.kind != "cancel" for a in actions)


def test_a_hold_that_begins_again_in_the_same_window_updates_its_invite() -> None:
    def car(now: datetime) -> bool:
        return now < hm(18, 40) or hm(19, 10) <= now < hm(20, 58)

    actions = Evening(fixed(smart(hm(18), hm(21))), car).run(hm(17, 50), hm(21, 30))
    assert spans(actions) == [
        ("send", 0, hm(18), hm(21)),
        ("trim", 1, hm(18), hm(19)),
        ("update", 2, hm(18), hm(21)),  # the same UID: a calendar keeps one event
    ]


def test_a_tariff_gone_quiet_trims_and_never_cancels() -> None:
    evening = Evening(fixed(smart(hm(18), hm(21))), until(hm(23)), trusted=until(hm(18, 10)))
    actions = evening.run(hm(17, 50), hm(21, 30))
    assert spans(actions) == [("send", 0, hm(18), hm(21)), ("trim", 1, hm(18), hm(18, 30))]


def test_no_invite_for_a_boost_or_without_the_car() -> None:
    boost = Evening(fixed(smart(hm(18), hm(19), DispatchKind.BOOST)), until(hm(23)))
    assert boost.run(hm(17, 50), hm(19, 30)) == []
    idle = Evening(fixed(smart(hm(18), hm(19))), until(hm(0)))
    assert idle.run(hm(17, 50), hm(19, 30)) == []


def test_a_restart_neither_resends_nor_forgets_an_invite() -> None:
    windows, car = fixed(smart(hm(18), hm(21))), until(hm(18, 40))
    first = Evening(windows, car)
    assert [a.kind for a in first.run(hm(17, 50), hm(18, 20))] == ["send"]
    saved = Memory(invites=first.book or {}).model_dump_json()
    second = Evening(windows, car, book=Memory.model_validate_json(saved).invites)
    # the hold's own memory is rebuilt from the window; the book says the invite is out
    assert spans(second.run(hm(18, 20), hm(21))) == [("trim", 1, hm(18), hm(19))]


def test_ended_invites_are_forgotten_after_two_days() -> None:
    evening = Evening(fixed(smart(hm(18), hm(19))), until(hm(18, 58)))
    evening.run(hm(17, 50), hm(19, 30))
    assert evening.book and evening.book[uid_of("kraken", hm(18))].status is Status.ENDED
    later, _ = plan(
        "kraken", DispatchMemory(), None, None, evening.book, hm(19) + timedelta(days=2)
    )
    assert later == {}


def test_a_window_listed_again_after_its_cancel_is_sent_again_under_its_uid() -> None:
    def windows(now: datetime) -> list[DispatchWindow]:
        gone = hm(18, 10) <= now < hm(18, 40)  # an empty list for half an hour (KT-CT-4340)
        return [] if gone else [smart(hm(18), hm(21))]

    actions = Evening(windows, until(hm(20, 58))).run(hm(17, 50), hm(21, 30))
    assert spans(actions) == [
        ("send", 0, hm(18), hm(21)),
        ("cancel", 1, hm(18), hm(21)),
        ("update", 2, hm(18), hm(21)),
    ]
    assert actions[2].invite.status is Status.HELD


def test_an_end_in_the_slots_last_minute_is_seen_though_the_hold_ends_at_once() -> None:
    """The hold ends in the same evaluation that sees the change: no evaluation in between
    shows the shorter hold."""

    def windows(now: datetime) -> list[DispatchWindow]:
        return [smart(hm(18), hm(21))] if now < hm(18, 29, 30) else []

    withdrawn = Evening(windows, until(hm(23))).run(hm(17, 50), hm(21, 30))
    assert spans(withdrawn) == [("send", 0, hm(18), hm(21)), ("cancel", 1, hm(18), hm(21))]
    stopped = Evening(fixed(smart(hm(18), hm(21))), until(hm(18, 59, 30)))
    actions = stopped.run(hm(17, 50), hm(21, 30))
    assert spans(actions) == [("send", 0, hm(18), hm(21)), ("trim", 1, hm(18), hm(19))]
