"""Dispatch days through the real broker: the Kraken bridge reading a fake supplier's planned
windows, the myenergi bridge reading a fake Zappi whose car the test plugs, pauses and fills,
the Powerwall bridge writing to a fake gateway, and the controller between them, all on one
clock the test moves (`support.day`).

Each scenario ends with the gateway's raw mode and reserve exactly the owner's, and counts the
gateway's writes: a hold and its restore are two, and nothing else may write (a window moved
while held changes the controller's plan, never the battery). Unless a scenario is about the
EV guard too, the guard holds no battery (`guard_batteries` none), so what is held is
dispatch's doing alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from support.broker import Broker
from support.day import BATTERY_EVENT, OWNERS_MODE, OWNERS_RAW_RESERVE, Day, dispatch_day, when
from wattbus_simulator.fake_myenergi import ECO_PLUS, FAST

pytestmark = pytest.mark.filterwarnings("ignore:Unverified HTTPS request")

OWNERS = (OWNERS_MODE, OWNERS_RAW_RESERVE)
HELD = ("backup", 100.0)  # the local route's hold: backup at its top reserve, raw
WINTER = date(2026, 1, 14)  # London is on UTC
DISPATCH_ONLY = {"guard_batteries": "none"}


def on(day: date) -> Callable[[str], datetime]:
    """`t("18:00")`, `t("18:59:05")`: a UTC time on `day`; `+1 00:10` the day after."""

    def t(hhmm: str) -> datetime:
        offset = 0
        if hhmm.startswith("+1 "):
            offset, hhmm = 1, hhmm[3:]
        h, m, s = (int(x) for x in f"{hhmm}:0".split(":")[:3])
        return datetime.combine(date.fromordinal(day.toordinal() + offset), time(h, m, s), UTC)

    return t


def verdict(state: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = state["devices"]["powerwall"]
    return found


def holding(state: dict[str, Any]) -> bool | None:
    """The controller's verdict for the Powerwall: True hold, False release, None nothing."""
    hold: bool | None = verdict(state).get("hold")
    return hold


def until(state: dict[str, Any]) -> datetime | None:
    return when(state["dispatch_until"]) if "dispatch_until" in state else None


def charge(day: Day) -> None:
    """The car plugged in, and the Zappi in Fast: it charges (C2) at 7.4 kW."""
    day.car.plug()
    day.car.mode = FAST


def pause(day: Day) -> None:
    """Eco+ with no surplus: the car waits (C1), still plugged in."""
    day.car.mode = ECO_PLUS


def finish(day: Day) -> None:
    """The car is full (B2): it asks for nothing more."""
    day.car.full = True


async def hold_lands(day: Day, t: datetime, *, polled: bool = False) -> dict[str, Any]:
    """At `t` the controller holds the Powerwall, and the gateway shows it: the controller's
    state then."""
    mark = day.obs.mark()
    state = await day.at(t, polled=polled)
    assert holding(state) is True, json.dumps(state)
    shown = await day.held(mark)
    assert (shown["operation"], shown["reserve"], shown["hold_route"]) == ("backup", 100, "backup")
    assert (day.gateway.real_mode, day.gateway.backup_reserve_percent) == HELD
    return state


async def still_held(day: Day, t: datetime, *, polled: bool = False) -> dict[str, Any]:
    """At `t` the hold goes on: nothing but renewals sent, the gateway untouched."""
    mark, writes = day.obs.mark(), day.writes
    state = await day.at(t, polled=polled)
    assert holding(state) is True, verdict(state)
    assert False not in day.sent(mark)
    assert day.writes == writes and day.owners == HELD
    return state


async def release_lands(day: Day, t: datetime, *, polled: bool = False) -> dict[str, Any]:
    """At `t` the controller releases the Powerwall, and it gets the owner's settings back."""
    mark = day.obs.mark()
    state = await day.at(t, polled=polled)
    assert holding(state) is not True, verdict(state)
    assert day.changes(mark) == [False]
    await day.released(mark)
    assert day.owners == OWNERS
    return state


async def nothing_held(day: Day, t: datetime, *, polled: bool = False) -> dict[str, Any]:
    """At `t` the Powerwall is left alone: no command, no write, the owner's settings."""
    mark, writes = day.obs.mark(), day.writes
    state = await day.at(t, polled=polled)
    assert holding(state) is not True, verdict(state)
    assert day.sent(mark) == [] and day.writes == writes and day.owners == OWNERS
    return state


async def test_a_planned_window_holds_from_its_start_to_the_boundary_after_the_car_is_full(
    own_broker: Broker, tmp_path: Path
) -> None:
    """A window planned an hour ahead: the hold starts at its planned start (not before, the
    car charging since 17:50), a short pause keeps it, and the car full at 18:40 ends it just
    before 19:00, not at the window's end (20:00) and not at 18:40 mid-slot."""
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05"), **DISPATCH_ONLY) as day:
        day.plan((t("18:00"), t("20:00")))
        await nothing_held(day, t("17:10"), polled=True)
        charge(day)
        await nothing_held(day, t("17:50"))
        await nothing_held(day, t("17:59:50"))  # a future window is not acted on
        state = await hold_lands(day, t("18:00:05"))
        assert until(state) == t("20:00") and state["dispatch_sign"] == "planned"
        assert verdict(state)["winner"] == "dispatch"
        pause(day)
        state = await still_held(day, t("18:10"))
        assert until(state) == t("18:30")  # a car that stays paused ends it at this boundary
        charge(day)
        state = await still_held(day, t("18:20"))
        assert until(state) == t("20:00")  # charging again within the slot: the window's end
        finish(day)
        state = await still_held(day, t("18:40"))
        assert until(state) == t("19:00")
        await still_held(day, t("18:58:55"))
        await release_lands(day, t("18:59:05"))
        await nothing_held(day, t("19:10"))
        assert [m.json["data"]["until"] for m in day.notices("dispatch_hold")] == [
            "2026-01-14T20:00:00+00:00"
        ]
        assert len(day.notices("dispatch_release")) == 1
    assert day.owners == OWNERS
    assert day.writes == 2


async def test_a_car_starting_late_is_held_from_then_and_extended_slot_by_slot(
    own_broker: Broker, tmp_path: Path
) -> None:
    """The car plugs in at 18:40 into an 18:00-19:00 window: held from then. Still charging at
    the window's end, the hold runs a slot more, twice; full at 19:40, it ends before 20:00."""
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05"), **DISPATCH_ONLY) as day:
        day.plan((t("18:00"), t("19:00")))
        await nothing_held(day, t("17:10"), polled=True)
        await nothing_held(day, t("17:50"), polled=True)
        state = await nothing_held(day, t("18:20"))
        assert "car not drawing" in state["policies"]["dispatch"]["reason"]
        charge(day)
        state = await hold_lands(day, t("18:40"))
        assert until(state) == t("19:00")
        state = await still_held(day, t("18:59:05"))
        assert until(state) == t("19:30")
        state = await still_held(day, t("19:15"))
        assert verdict(state)["reason"].endswith("charger zappi charging: holding until 19:30")
        state = await still_held(day, t("19:29:05"))
        assert until(state) == t("20:00")
        finish(day)
        await still_held(day, t("19:40"))
        await still_held(day, t("19:58:55"))
        await release_lands(day, t("19:59:05"))
    assert day.owners == OWNERS
    assert day.writes == 2


async def test_a_window_moved_while_planned_and_while_running_never_rewrites_the_battery(
    own_broker: Broker, tmp_path: Path
) -> None:
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05"), **DISPATCH_ONLY) as day:
        day.plan((t("18:00"), t("19:00")))
        await nothing_held(day, t("17:10"), polled=True)
        day.plan((t("18:30"), t("19:30")))  # moved while planned
        await nothing_held(day, t("17:40"), polled=True)
        charge(day)
        state = await nothing_held(day, t("18:05"))
        assert verdict(state)["reason"] == "no policy wants anything of it"
        assert state["policies"]["dispatch"]["reason"] == "no window running"
        state = await hold_lands(day, t("18:30:05"))
        assert until(state) == t("19:30")
        day.plan((t("18:30"), t("20:00")))  # moved later while running
        state = await still_held(day, t("18:50"), polled=True)
        assert until(state) == t("20:00")
        day.plan((t("18:30"), t("19:30")))  # and cut short again
        state = await still_held(day, t("19:05"), polled=True)
        assert until(state) == t("19:30")
        finish(day)
        await still_held(day, t("19:15"))
        await release_lands(day, t("19:29:05"))
        moved = [m for m in day.obs.messages if m.topic == "wattbus/kraken/event"
                 and m.json.get("code") == "dispatch_moved"]  # fmt: skip
        assert len(moved) == 3
    assert day.owners == OWNERS
    assert day.writes == 2  # one hold, one restore: three moves wrote nothing


async def test_a_withdrawn_window_holds_nothing_or_releases_at_the_boundary(
    own_broker: Broker, tmp_path: Path
) -> None:
    """Withdrawn while planned: nothing happens. Withdrawn while held, with the car still
    charging: released just before the slot boundary, not held on (and not mid-slot)."""
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05"), **DISPATCH_ONLY) as day:
        day.plan((t("18:00"), t("18:30")))
        await nothing_held(day, t("17:10"), polled=True)
        day.plan()
        await nothing_held(day, t("17:40"), polled=True)
        charge(day)
        await nothing_held(day, t("18:05"))
        day.plan((t("19:00"), t("20:00")))
        await nothing_held(day, t("18:10"), polled=True)
        await nothing_held(day, t("18:40"), polled=True)
        await hold_lands(day, t("19:00:05"))
        day.plan()
        state = await still_held(day, t("19:10"), polled=True)
        assert until(state) == t("19:30")
        await still_held(day, t("19:28:55"))
        await release_lands(day, t("19:29:05"))
        await nothing_held(day, t("19:45"))
    assert day.owners == OWNERS
    assert day.writes == 2


async def test_a_window_that_appears_after_its_start_is_held_at_once(
    own_broker: Broker, tmp_path: Path
) -> None:
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05"), **DISPATCH_ONLY) as day:
        charge(day)
        await nothing_held(day, t("18:05"))
        day.plan((t("18:00"), t("19:00")))  # listed only once it has begun
        state = await hold_lands(day, t("18:10"), polled=True)
        assert until(state) == t("19:00")
        finish(day)
        await still_held(day, t("18:40"))
        await release_lands(day, t("18:59:05"))
    assert day.owners == OWNERS
    assert day.writes == 2


@pytest.mark.parametrize("guarded", [True, False], ids=["guard", "dispatch-only"])
async def test_a_boost_is_no_dispatch_hold_but_the_guard_still_holds_for_the_car(
    own_broker: Broker, tmp_path: Path, guarded: bool
) -> None:
    """The owner's boost is charged at the normal rate: dispatch holds nothing for it. The EV
    guard still holds for the car while it charges (and ends when the car does, not at a
    boundary); with the guard holding no battery, the Powerwall is never touched."""
    t = on(WINTER)
    settings = {} if guarded else DISPATCH_ONLY
    async with dispatch_day(own_broker, tmp_path, t("17:50"), **settings) as day:
        day.plan((t("18:00"), t("19:00")), kind="BOOST")
        await nothing_held(day, t("17:55"), polled=True)
        await nothing_held(day, t("18:00:05"))
        charge(day)
        if guarded:
            state = await hold_lands(day, t("18:05"))
            assert verdict(state)["winner"] == "ev_guard"
            assert verdict(state)["reason"] == "charging: charger zappi charging"
        else:
            state = await nothing_held(day, t("18:05"))
        assert state["policies"]["dispatch"]["wants"] == {}
        why = state["policies"]["dispatch"]["reason"]
        assert why == "boost window running: not a cheap-rate dispatch"
        finish(day)
        if guarded:
            await still_held(day, t("18:10"))  # the guard's release wait: 120 s
            await release_lands(day, t("18:12:05"))
        else:
            await nothing_held(day, t("18:12:05"))
    assert day.owners == OWNERS
    assert day.writes == (2 if guarded else 0)


async def test_the_guard_and_dispatch_share_one_hold_with_both_reasons(
    own_broker: Broker, tmp_path: Path
) -> None:
    """The guard holds for the car from 17:50; the window starting adds its reason, not a
    command. When the car is full (18:20) the guard lets go after its wait, and dispatch
    alone holds to the slot's end."""
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05")) as day:
        day.plan((t("18:00"), t("19:00")))
        await nothing_held(day, t("17:10"), polled=True)
        charge(day)
        await hold_lands(day, t("17:50"))
        mark = day.obs.mark()
        state = await still_held(day, t("18:00:05"))
        assert verdict(state)["winner"] == "ev_guard"
        assert verdict(state)["reason"] == (
            "ev_guard: charging: charger zappi charging; "
            "dispatch: smart window 18:00-19:00 running; charger zappi charging: "
            "holding until 19:00"
        )
        assert state["policies"]["dispatch"]["wants"] == {"powerwall": True}
        finish(day)
        await still_held(day, t("18:20"))
        state = await still_held(day, t("18:22:05"))
        assert verdict(state)["winner"] == "dispatch"
        assert state["policies"]["ev_guard"]["wants"] == {"powerwall": False}
        assert until(state) == t("18:30")
        await release_lands(day, t("18:29:05"))
        assert day.changes(mark) == [True, False]  # renewals, then one release
    assert day.owners == OWNERS
    assert day.writes == 2


async def test_restarts_mid_window_keep_the_hold_without_a_write(
    own_broker: Broker, tmp_path: Path
) -> None:
    """Each service stopped and started again while the hold runs: the controller (away for
    five minutes, well within the lease), the tariff bridge, the Zappi's and the Powerwall's.
    The hold survives each one, and the end comes as it would have."""
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05"), **DISPATCH_ONLY) as day:
        day.plan((t("18:00"), t("20:00")))
        await nothing_held(day, t("17:10"), polled=True)
        await nothing_held(day, t("17:50"), polled=True)
        charge(day)
        await hold_lands(day, t("18:00:05"))
        await day.stop("controller")
        await day.at(t("18:05"))
        assert day.owners == HELD
        mark = day.obs.mark()
        day.start("controller")
        await day.ready("controller", mark)
        state = await still_held(day, t("18:10"))
        assert until(state) == t("20:00") and state["holding"] == ["powerwall"]
        for service, at in (("kraken", "18:20"), ("zappi", "18:40"), ("powerwall", "19:00")):
            await day.restart(service)
            state = await still_held(day, t(at), polled=service == "kraken")
            assert until(state) == t("20:00"), service
        finish(day)
        await still_held(day, t("19:20"))
        await release_lands(day, t("19:29:05"))
    assert day.owners == OWNERS
    assert day.writes == 2


async def test_a_controller_away_past_the_lease_gets_the_battery_restored_then_held_again(
    own_broker: Broker, tmp_path: Path
) -> None:
    t = on(WINTER)
    settings = DISPATCH_ONLY | {"lease": 600}
    async with dispatch_day(own_broker, tmp_path, t("17:50"), **settings) as day:
        day.plan((t("18:00"), t("19:00")))
        charge(day)
        await nothing_held(day, t("17:55"), polled=True)
        await hold_lands(day, t("18:00:05"))
        await still_held(day, t("18:05"))  # renewed: the lease runs to 18:15
        await day.stop("controller")
        await day.at(t("18:10"))
        assert day.owners == HELD
        mark = day.obs.mark()
        await day.at(t("18:15:05"))
        expired = await day.obs.wait_for(
            BATTERY_EVENT, lambda m: m.json.get("code") == "lease_expired", after=mark
        )
        assert expired.json["kind"] == "notice"
        assert day.owners == OWNERS  # nobody renews: the battery is the owner's again
        mark = day.obs.mark()
        day.start("controller")
        await day.ready("controller", mark)
        await day.held(mark)  # the controller remembers the dispatch hold, and places it again
        finish(day)
        await still_held(day, t("18:20"))
        await release_lands(day, t("18:29:05"))
    assert day.owners == OWNERS
    assert day.writes == 4  # hold, restored at the lease's end, hold again, restore


async def test_autumn_bst_change_midnight_releases_and_the_cheap_hours_change_nothing(
    own_broker: Broker, tmp_path: Path
) -> None:
    """25 October 2026, clocks back at 01:00 UTC: London's midnight is 23:00 UTC, and its
    06:00 is 06:00 UTC. A window across midnight is released just before it; nothing is held
    through the night's cheap hours, car charging and a window running; a window from 05:30
    UTC is held from 06:00."""
    t = on(date(2026, 10, 24))
    async with dispatch_day(own_broker, tmp_path, t("22:05"), **DISPATCH_ONLY) as day:
        day.plan((t("22:30"), t("+1 01:30")))  # 23:30 BST to 01:30 GMT
        charge(day)
        await nothing_held(day, t("22:10"), polled=True)
        state = await hold_lands(day, t("22:30:05"))
        assert until(state) == t("23:00")  # London's midnight, not the window's end
        await still_held(day, t("22:58:55"))
        await release_lands(day, t("22:59:05"))
        state = await nothing_held(day, t("23:10"), polled=True)
        assert state["policies"]["dispatch"]["reason"] == "cheap-rate hours 00:00-06:00: not acting"
        await nothing_held(day, t("+1 00:40"), polled=True)  # 01:40 BST
        day.plan((t("+1 05:30"), t("+1 07:00")))
        await nothing_held(day, t("+1 01:10"), polled=True)  # 01:10 GMT
        await nothing_held(day, t("+1 05:40"), polled=True)  # 05:40 GMT: still cheap
        state = await hold_lands(day, t("+1 06:00:05"))
        assert until(state) == t("+1 07:00")
        finish(day)
        await still_held(day, t("+1 06:10"))
        await release_lands(day, t("+1 06:29:05"))
    assert day.owners == OWNERS
    assert day.writes == 4


async def test_spring_bst_change_cheap_hours_end_at_05_utc_and_midnight_moves_to_23(
    own_broker: Broker, tmp_path: Path
) -> None:
    """29 March 2026, clocks forward at 01:00 UTC. Midnight before it is 00:00 UTC: a window
    across it is released at 23:59. The cheap hours end at 06:00 BST, 05:00 UTC: a window
    from 04:30 UTC is held from then. That evening, London's midnight is 23:00 UTC."""
    t = on(date(2026, 3, 28))
    async with dispatch_day(own_broker, tmp_path, t("23:05"), **DISPATCH_ONLY) as day:
        day.plan((t("23:30"), t("+1 00:30")))
        charge(day)
        await nothing_held(day, t("23:10"), polled=True)
        state = await hold_lands(day, t("23:30:05"))
        assert until(state) == t("+1 00:00")
        await release_lands(day, t("23:59:05"))
        day.plan((t("+1 04:30"), t("+1 06:00")))  # 05:30-07:00 BST
        await nothing_held(day, t("+1 00:10"), polled=True)
        await nothing_held(day, t("+1 04:40"), polled=True)  # 05:40 BST: still cheap
        state = await hold_lands(day, t("+1 05:00:05"))  # 06:00 BST
        assert until(state) == t("+1 06:00")
        finish(day)
        await still_held(day, t("+1 05:10"))
        await release_lands(day, t("+1 05:29:05"))
        evening = on(date(2026, 3, 29))
        day.plan((evening("22:30"), evening("23:30")))  # 23:30-00:30 BST
        charge(day)
        await nothing_held(day, evening("22:10"), polled=True)
        state = await hold_lands(day, evening("22:30:05"))
        assert until(state) == evening("23:00")
        await still_held(day, evening("22:58:55"))
        await release_lands(day, evening("22:59:05"))
        await nothing_held(day, evening("23:10"))
    assert day.owners == OWNERS
    assert day.writes == 6


async def test_a_tariff_bridge_restarted_late_in_a_slot_keeps_the_hold(
    own_broker: Broker, tmp_path: Path
) -> None:
    """Restarted at 18:28:45, the Kraken bridge may not call the supplier before 18:31 (the
    quiet minutes around :30). Its windows, read three minutes before, are as good as they
    were: the hold runs on through the boundary, with no write."""
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05"), **DISPATCH_ONLY) as day:
        day.plan((t("18:00"), t("20:00")))
        await nothing_held(day, t("17:10"), polled=True)
        await nothing_held(day, t("17:50"), polled=True)
        charge(day)
        await hold_lands(day, t("18:00:05"))
        await still_held(day, t("18:25:45"), polled=True)
        await day.at(t("18:28:45"))
        await day.restart("kraken")
        state = await still_held(day, t("18:29:05"))
        assert until(state) == t("20:00")
        await still_held(day, t("18:31:10"), polled=True)
        finish(day)
        await still_held(day, t("18:40"))
        await release_lands(day, t("18:59:05"))
    assert day.owners == OWNERS
    assert day.writes == 2


async def test_a_window_moved_later_while_held_is_held_on_into_its_new_slots(
    own_broker: Broker, tmp_path: Path
) -> None:
    """Held from 18:00 for an 18:00-19:00 window, which the supplier moves to 18:30-19:30 at
    18:10: the slot to 18:30 is held out (a hold ends at a boundary), and the moved window
    starts at that very boundary. The hold runs on into it; releasing at 18:29 to hold again
    at 18:30 would write the battery twice for a minute."""
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05"), **DISPATCH_ONLY) as day:
        day.plan((t("18:00"), t("19:00")))
        await nothing_held(day, t("17:10"), polled=True)
        await nothing_held(day, t("17:50"), polled=True)
        charge(day)
        await hold_lands(day, t("18:00:05"))
        day.plan((t("18:30"), t("19:30")))
        await still_held(day, t("18:10"), polled=True)
        await still_held(day, t("18:29:05"))
        state = await still_held(day, t("18:31"))
        assert until(state) == t("19:30")
        finish(day)
        await still_held(day, t("19:00"))
        await release_lands(day, t("19:29:05"))
    assert day.owners == OWNERS
    assert day.writes == 2


async def test_a_tariff_bridge_restarted_in_a_slots_last_minute_keeps_the_hold(
    own_broker: Broker, tmp_path: Path
) -> None:
    """Restarted at 18:29:20, within the minute before the boundary a hold would end at, with
    windows read four minutes before."""
    t = on(WINTER)
    async with dispatch_day(own_broker, tmp_path, t("17:05"), **DISPATCH_ONLY) as day:
        day.plan((t("18:00"), t("20:00")))
        await nothing_held(day, t("17:10"), polled=True)
        await nothing_held(day, t("17:50"), polled=True)
        charge(day)
        await hold_lands(day, t("18:00:05"))
        await still_held(day, t("18:25:45"), polled=True)
        await still_held(day, t("18:29:20"))
        mark = day.obs.mark()
        await day.restart("kraken")
        state = await still_held(day, t("18:29:40"))
        assert day.sent(mark).count(False) == 0
        assert until(state) == t("20:00")
        finish(day)
        await still_held(day, t("18:40"))
        await release_lands(day, t("18:59:05"))
    assert day.owners == OWNERS
    assert day.writes == 2
