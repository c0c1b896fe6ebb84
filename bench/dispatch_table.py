"""The replayed day as Markdown (`docs/dispatch-day.md`): every change of the Powerwall's mode
and reserve against the windows and the car, wattbus and the old tool side by side, then the
totals. Made from one seed's replay, so `bench/dispatch.py --table` refreshes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dispatch_day import END, START, Day, plan
from dispatch_oldtool import LOOP, ZAPPI_EVERY
from dispatch_replay import OWNERS, POWERWALL_EVERY, Change, Result, old_tool, wattbus
from dispatch_replay import ZAPPI_EVERY as BRIDGE_ZAPPI_EVERY

SEED = 1


@dataclass(frozen=True)
class Row:
    at: datetime
    what: str = ""
    wattbus: Change | None = None
    old: Change | None = None


def events(day: Day) -> list[Row]:
    rows = [Row(c.at, c.what) for c in day.listings]
    for s in day.sessions:
        rows += [Row(s.start, f"car starts ({s.what})"), Row(s.end, "car stops")]
    return rows


def settings(change: Change | None, current: tuple[str, float]) -> str:
    mode, reserve = (change.mode, change.reserve) if change else current
    text = f"{mode} {reserve:g} %"
    return f"**{text}**" if change else text


def who(change: Change | None) -> str:
    if change is None:
        return ""
    policy, _, reason = change.who.partition(": ")
    return f"{policy}: {reason}" if reason else policy


def table(delay: float) -> str:
    day = plan(SEED)
    ours, guarded, old = (wattbus(day, SEED, delay, False), wattbus(day, SEED, delay, True),
                          old_tool(day, SEED, delay))  # fmt: skip
    rows = events(day)
    rows += [Row(c.at, wattbus=c) for c in ours.changes]
    rows += [Row(c.at, old=c) for c in old.changes]
    rows.sort(key=lambda r: (r.at, r.wattbus is not None, r.old is not None))
    lines = [
        "# A dispatch day, replayed",
        "",
        "Made by `uv run python bench/dispatch.py --table > docs/dispatch-day.md` (the replay of",
        "`bench/dispatch_replay.py`, seed 1); refresh it the same way. Times are UTC, which is",
        f"London's time on this January day ({START:%d %b %Y %H:%M} to {END:%d %b %H:%M}).",
        "",
        "The same day for both tools: the supplier's list changes as Kraken's does, the car's",
        "sessions start with a window, late, end early and run past an end, and the house uses",
        "320 to 1600 W. The Powerwall covers house and car up to 5 kW unless it is in backup",
        f"mode, and each write takes effect {delay:g} s after it is sent. **wattbus** is the",
        "controller's `core.decide` every second with dispatch only (the EV guard holds no",
        f"battery), fed as the bus would feed it: the Zappi every {BRIDGE_ZAPPI_EVERY} s, the",
        "tariff as the kraken bridge polls it (every 3 minutes, away from :00 and :30) and",
        f"publishes it at window edges, the Powerwall's state every {POWERWALL_EVERY} s. The",
        f"**old tool** is our reading of the script users run today: a {LOOP:g} s loop that reads",
        f"Kraken each pass and the Zappi every {ZAPPI_EVERY:g} s while a dispatch runs, goes to",
        "backup at 100 % when a dispatch runs and the Zappi is in C2, reverts before the slot",
        "ends, extends 29 minutes while the car charges, and resets at midnight",
        "(`bench/dispatch_oldtool.py` lists its rules).",
        "",
        f"Both start in the owner's mode, {OWNERS[0]} at {OWNERS[1]:g} %. A change is in bold,",
        "at the second it took effect; *who decided* is the controller's reason as its state",
        "gives it, or the old tool's rule.",
        "",
        "| time | what happened | wattbus | who decided (wattbus) | old tool "
        "| who decided (old tool) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    now_ours, now_old = OWNERS, OWNERS
    for r in rows:
        if r.wattbus is not None:
            now_ours = (r.wattbus.mode, r.wattbus.reserve)
        if r.old is not None:
            now_old = (r.old.mode, r.old.reserve)
        lines.append(
            f"| {r.at:%H:%M:%S} | {r.what} | {settings(r.wattbus, now_ours)} | {who(r.wattbus)} "
            f"| {settings(r.old, now_old)} | {who(r.old)} |"
        )
    lines += ["", *totals([ours, guarded, old], day)]
    return "\n".join(lines) + "\n"


def totals(results: list[Result], day: Day) -> list[str]:
    names = [c.name for c in day.cheap]
    spans = ", ".join(f"{c.name} {c.start:%H:%M}-{c.end:%H:%M}" for c in day.cheap)
    old = results[-1]
    lines = [
        "## Totals",
        "",
        "Wh the Powerwall gave the car while it charged in a cheap stretch, its discharge",
        "beyond the house's own use. The stretches:",
        f"{spans}. W3 was withdrawn at 19:20, and its slot is still billed cheap; W5 counts to",
        "midnight, where the fixed cheap hours begin.",
        "",
        "| | "
        + " | ".join(names)
        + " | total | ratio to the old tool | writes | held outside, min |",
        "| --- |" + " ---: |" * (len(names) + 4),
    ]
    for r in results:
        cells = " | ".join(f"{r.into_car[n]:.0f}" for n in names)
        ratio = f"{r.total / old.total:.3f}" if r is not old else ""
        lines.append(f"| {r.name} | {cells} | {r.total:.0f} | {ratio} | {r.writes} "
                     f"| {r.held_outside:.0f} |")  # fmt: skip
    lines += [
        "",
        "*Writes*: mode and reserve sent together, counted once. *Held outside*: minutes in",
        "backup while no stretch was cheap (house and car on the grid at the standard rate).",
        "`bench/dispatch.py` prints the same figures over several seeds.",
        "",
        "Where wattbus still lets the battery into the car, by its rules:",
        "- from the car's start to the next Zappi poll (up to 15 s), plus the write's delay;",
        "- at the end of a hold: it ends `RELEASE_LEAD` (60 s) before the slot boundary, so",
        "  with the car still on, the battery covers it for that minute and the delay (W3,",
        "  where the window was withdrawn; W5, before midnight);",
        "- a window listed only after it began (W4): dispatch holds on the device's",
        "  `SMART_CONTROL_IN_PROGRESS` from the kraken bridge's first poll in it, and that",
        "  bridge makes no request in the minute after :00 or :30.",
        "",
        "With the EV guard on the Powerwall too, a charging car holds it in a window or not",
        "(the boost, W4's first minutes): that is the guard's own job, and its time held",
        "outside the cheap stretches is that job, not a cost of dispatch.",
    ]
    return lines
