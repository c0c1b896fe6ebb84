"""The tool users run today for Kraken dispatches and a Powerwall, as a pure function of its
rules: `step(memory, now, listed, charging) -> (memory, writes)`, called once a loop.

This is our reading of its script (one asyncio loop, no bus, no lease). Its rules:
- **A 60 s loop.** Each pass reads Kraken's planned dispatches (all of them, whatever their
  type: a boost counts as a dispatch too) and acts on a dispatch that runs now.
- **The Zappi** is read in a pass where a dispatch runs: the first time, then every 180 s, and
  at every pass from 120 s before the end of a dispatch it acted on, or while it waits to see
  whether to extend. It charges when its plug state is C2.
- **Backup at 100 %** when a dispatch runs and the Zappi charges, once per dispatch (by its
  start: a dispatch moved to a new start is a new dispatch, and is written again).
- **The end.** In the last minute of a dispatch it acted on: the Zappi charging means an
  extension check, else a revert to the owner's mode and reserve. The first pass after the
  end extends by 29 minutes if the Zappi still charges, else reverts. An extension reverts
  once less than a minute of it is left.
- **The car stops** (the Zappi read not charging) while a dispatch it acted on runs: it stays
  in backup to the end of the half-hour slot, and reverts a minute before it; in the slot's
  last minute it reverts at once.
- **A dispatch gone from the list** while in backup: kept to the end of the slot it went in.
  (The script computes that slot's end afresh at every pass, so as written it never comes and
  backup lasts until another dispatch or midnight; we give it the rule it means.)
- **00:00-06:00 UK** (the fixed cheap hours): nothing is done. **At midnight** a reset: a
  revert, whatever the state, and everything forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from wattbus.models import DispatchWindow, Operation

LOOP = 60.0  # s between passes
ZAPPI_EVERY = 180.0  # s between Zappi reads while a dispatch runs
URGENT = 120.0  # s before an acted-on dispatch's end from which the Zappi is read every pass
EXTENSION = timedelta(minutes=29)
MINUTE = timedelta(seconds=60)
SLOT = timedelta(minutes=30)
UK = ZoneInfo("Europe/London")
BACKUP: tuple[Operation, float] = ("backup", 100.0)


@dataclass(frozen=True)
class Write:
    """One write to the Powerwall: mode and reserve, and the rule that made it."""

    mode: Operation
    reserve: float
    rule: str


@dataclass(frozen=True)
class OldMemory:
    activated: frozenset[datetime] = frozenset()  # starts of the dispatches it went to backup for
    reverted: frozenset[datetime] = frozenset()
    checking: dict[datetime, datetime] = field(default_factory=dict)  # start -> end: extend?
    # start -> when backup ends, and why it runs on: an extension, or to the slot's end
    until: dict[datetime, tuple[datetime, str]] = field(default_factory=dict)
    zappi_at: datetime | None = None
    idle: bool = False  # it saw the Zappi stop and chose to wait for the slot's end
    reset_on: date | None = None


def slot_end(t: datetime) -> datetime:
    return t.replace(minute=t.minute - t.minute % 30, second=0, microsecond=0) + SLOT


def step(
    m: OldMemory,
    now: datetime,
    listed: list[DispatchWindow],
    charging: bool,
    owners: tuple[Operation, float],
) -> tuple[OldMemory, list[Write]]:
    """One pass. `listed`: Kraken's answer in this pass; `charging`: the Zappi's plug state is
    C2 now (read only where the rules read it); `owners`: the mode and reserve a revert
    writes."""
    writes: list[Write] = []

    def revert(rule: str) -> None:
        writes.append(Write(owners[0], owners[1], rule))

    local = now.astimezone(UK)
    if local.hour == 0 and m.reset_on != local.date():
        revert("midnight reset")
        m = OldMemory(reset_on=local.date())
    if local.hour < 6:
        return m, writes

    def running(w: DispatchWindow) -> bool:
        return w.start <= now < w.end

    def others(key: datetime) -> bool:
        return any(running(w) for w in listed if w.start != key)

    until = dict(m.until)
    activated, checking = set(m.activated), dict(m.checking)
    for key, (end, why) in list(until.items()):
        if now >= end - MINUTE and key not in m.reverted:
            if not others(key):
                revert(f"{why} over")
            activated.discard(key)
            del until[key]
            checking.pop(key, None)
            m = replace(m, idle=False)
    m = replace(m, activated=frozenset(activated), checking=checking, until=until)

    active = any(running(w) for w in listed) or bool(m.checking) or bool(m.until)
    if not active:
        if m.activated - m.reverted:  # gone from the list while in backup: to the slot's end
            slot = (slot_end(now), "dispatch gone from the list: its slot")
            gone = dict.fromkeys(m.activated - m.reverted, slot)
            return replace(m, until=gone, activated=frozenset(gone)), writes
        return OldMemory(reset_on=m.reset_on), writes

    ends = {w.start: w.end for w in listed}
    urgent = any(
        k in ends and (ends[k] - now).total_seconds() <= URGENT for k in m.activated
    ) or bool(m.checking)
    due = m.zappi_at is None or urgent or (now - m.zappi_at).total_seconds() >= ZAPPI_EVERY
    if not due:
        return m, writes
    m = replace(m, zappi_at=now)
    reverted, checking, until = set(m.reverted), dict(m.checking), dict(m.until)
    activated = set(m.activated)

    for key in sorted(activated - reverted - set(checking) - set(until)):
        if key in ends and 0 < (ends[key] - now).total_seconds() <= 60:
            if charging:
                checking[key] = ends[key]
            else:
                if not others(key):
                    revert("dispatch ending, Zappi idle")
                reverted.add(key)
    for key, end in list(checking.items()):
        if now < end:
            continue
        if charging:
            until[key] = (end + EXTENSION, "29-minute extension")
        else:
            if not others(key):
                revert("after the end, Zappi stopped")
            reverted.add(key)
        del checking[key]

    idle = m.idle
    if charging:
        idle = False
        for w in listed:
            if running(w) and w.start not in activated:
                writes.append(Write(*BACKUP, rule=f"{w.kind.value} dispatch running, Zappi C2"))
                activated.add(w.start)
    elif not (checking or until) and not idle and activated:
        idle = True
        end = slot_end(now)
        stay = [
            w.start for w in listed
            if running(w) and w.start in activated and w.start not in reverted
            and (end - now).total_seconds() > 60
        ]  # fmt: skip
        if stay:
            until.update(dict.fromkeys(stay, (end, "Zappi stopped: the slot")))
        else:
            revert("Zappi stopped")
            reverted.update(w.start for w in listed if running(w))
    return (
        replace(m, activated=frozenset(activated), reverted=frozenset(reverted),
                checking=checking, until=until, idle=idle),
        writes,
    )  # fmt: skip
