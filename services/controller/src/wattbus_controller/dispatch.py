"""Dispatch: while the supplier's smart-charge window runs and the car really draws power, the
whole house pays the cheap rate, so the house battery is held (it charges cheaply too, and does
not empty itself into the car).

A pure policy: `step(settings, inputs, memory, now) -> (memory, decision)`. The hold is planned
in half-hour slots, because billing is: it starts at the window's planned start (not when a
derived sensor catches up), runs to the window's end, and ends just before a slot boundary,
never mid-slot. A window that ends while the car still charges is extended slot by slot; one
withdrawn (or a car that stops) ends the hold at the next boundary, never later. In the fixed
cheap-rate hours (00:00-06:00 by default) dispatch changes nothing, and a hold reaching them is
ended before they start, so the overnight rate is never blocked.

The planned list is not always right (KT-CT-4340, an empty list while the app shows slots), so
the dispatched device's own state (`SMART_CONTROL_IN_PROGRESS`) is a second sign that a window
runs now; the decision says which sign it used. Only a window running now counts: future ones
move too often to plan on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from wattbus.models import DispatchKind, DispatchWindow, TariffState

SLOT = timedelta(minutes=30)
RELEASE_LEAD = 60.0  # s before a slot boundary a hold ends: the battery is free when it starts
# s: the tariff bridge backs off up to 30 minutes when the supplier throttles it; a list
# older than that and a margin says nothing about now
STALE_AFTER = 2700.0
LONDON = ZoneInfo("Europe/London")  # the suppliers' zone; its hours shift with BST
SMART_IN_PROGRESS = "SMART_CONTROL_IN_PROGRESS"  # Kraken's device state during a smart dispatch

Sign = Literal["planned", "device_state"]


@dataclass(frozen=True)
class DispatchSettings:
    tariff: str | None = None  # the tariff bridge's id; None: no dispatch policy
    batteries: tuple[str, ...] = ()
    cheap_start: time = time(0, 0)  # the fixed cheap-rate hours, local time
    cheap_end: time = time(6, 0)
    timezone: ZoneInfo = LONDON
    release_lead: float = RELEASE_LEAD
    stale_after: float = STALE_AFTER


class DispatchMemory(BaseModel):
    """`until`: the slot boundary the hold runs to; None: not holding. `extended`: past its
    window's end, held slot by slot while the car charges. Persisted with the controller."""

    model_config = ConfigDict(frozen=True)

    until: datetime | None = None
    start: datetime | None = None  # the start of the window that began the hold
    sign: Sign | None = None
    extended: bool = False


@dataclass(frozen=True)
class DispatchInputs:
    tariff: TariffState | None
    tariff_online: bool | None  # the tariff bridge's availability; None: not heard yet
    car_drawing: bool
    car_signal: str  # what says so, for the reason: "charger zappi charging", "house 7400 W"


@dataclass(frozen=True)
class DispatchDecision:
    hold: bool
    reason: str
    sign: Sign | None = None
    until: datetime | None = None


def slot_start(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return t.replace(minute=0 if t.minute < 30 else 30, second=0, microsecond=0)


def slot_end(t: datetime) -> datetime:
    return slot_start(t) + SLOT


def in_cheap_hours(s: DispatchSettings, now: datetime) -> bool:
    local = now.astimezone(s.timezone).time()
    if s.cheap_start <= s.cheap_end:
        return s.cheap_start <= local < s.cheap_end
    return local >= s.cheap_start or local < s.cheap_end  # hours across midnight


def next_cheap_start(s: DispatchSettings, now: datetime) -> datetime:
    """The next start of the fixed cheap-rate hours, in UTC; BST-safe, since the local day is
    built in the settings' timezone and only then converted."""
    local = now.astimezone(s.timezone)
    start = datetime.combine(local.date(), s.cheap_start, tzinfo=s.timezone)
    if start <= local:
        start = datetime.combine(local.date() + timedelta(days=1), s.cheap_start, s.timezone)
    return start.astimezone(UTC)


def _local(s: DispatchSettings, t: datetime) -> str:
    return f"{t.astimezone(s.timezone):%H:%M}"


def usable_tariff(
    s: DispatchSettings, inputs: DispatchInputs, now: datetime, holding: bool
) -> tuple[TariffState | None, str | None]:
    """The tariff's state when it tells about now, else why not. An `offline` bridge places
    no new hold; a hold under way keeps to its last list while that is fresh, since a bridge
    that restarts says `offline` for a moment, and ending the hold for that would write the
    battery twice for nothing."""
    t = inputs.tariff
    if t is None:
        return None, f"tariff {s.tariff} unknown"
    read = t.fetched or t.ts
    if (now - read).total_seconds() > s.stale_after:
        return None, f"tariff {s.tariff} list not read for over {s.stale_after / 60:g} min"
    if inputs.tariff_online is False and not holding:
        return None, f"tariff {s.tariff} offline"
    return t, None


def running(
    s: DispatchSettings, tariff: TariffState, now: datetime
) -> tuple[DispatchWindow | None, Sign | None, str]:
    """The smart window running now and the sign that says so, or why there is none."""
    smart = [w for w in tariff.windows if w.start <= now < w.end]
    for w in smart:
        if w.kind is DispatchKind.SMART:
            return w, "planned", f"smart window {_local(s, w.start)}-{_local(s, w.end)} running"
    if tariff.device_state == SMART_IN_PROGRESS:
        w = DispatchWindow(start=slot_start(now), end=slot_end(now), kind=DispatchKind.SMART)
        return w, "device_state", f"device reports {SMART_IN_PROGRESS} ({_why_not_listed(tariff)})"
    if smart:
        w = smart[0]
        return None, None, f"{w.kind.value} window running: not a cheap-rate dispatch"
    return None, None, "no window running"


def _smart_at(tariff: TariffState, t: datetime) -> DispatchWindow | None:
    return next(
        (w for w in tariff.windows if w.kind is DispatchKind.SMART and w.start <= t < w.end), None
    )


def _why_not_listed(tariff: TariffState) -> str:
    return "the planned list failed" if tariff.source is None else "no planned window now"


def step(
    s: DispatchSettings, inputs: DispatchInputs, memory: DispatchMemory, now: datetime
) -> tuple[DispatchMemory, DispatchDecision]:
    if in_cheap_hours(s, now):
        hours = f"{s.cheap_start:%H:%M}-{s.cheap_end:%H:%M}"
        return DispatchMemory(), DispatchDecision(False, f"cheap-rate hours {hours}: not acting")
    tariff, unusable = usable_tariff(s, inputs, now, holding=memory.until is not None)
    window, sign, why = (None, None, unusable or "") if tariff is None else running(s, tariff, now)
    car = inputs.car_signal if inputs.car_drawing else f"car not drawing ({inputs.car_signal})"
    backed = window is not None and sign is not None and inputs.car_drawing
    cap = next_cheap_start(s, now)
    lead = timedelta(seconds=s.release_lead)

    if memory.until is None:
        if window is None or sign is None:
            return memory, DispatchDecision(False, why)
        if not inputs.car_drawing:
            return memory, DispatchDecision(False, f"{why}; {car}")
        until = min(window.end, cap)
        if now >= until - lead:  # about to end: a hold now would only flicker
            return memory, DispatchDecision(False, f"{why}, ending at {_local(s, until)}")
        m = DispatchMemory(until=until, start=window.start, sign=sign)
        return m, _holding(s, m, f"{why}; {car}")

    until, extended = memory.until, memory.extended
    if backed:
        assert window is not None
        target = min(window.end, cap)  # follows the window, also when it is cut short
        if not (extended and target <= until):  # an extension outlasts the window's tail
            until, extended = target, False
    elif not extended or not inputs.car_drawing:
        # withdrawn, the tariff silent, or the car stopped: end at the next boundary
        until = min(until, slot_end(now))
    if now < until - lead:
        m = memory.model_copy(update={"until": until, "extended": extended})
        return m, _holding(s, m, f"{why}; {car}")
    # at a boundary: past the window's end, a slot more while the car still charges
    ends_here = backed or extended
    if inputs.car_drawing and ends_here and until + SLOT <= cap:
        m = memory.model_copy(update={"until": until + SLOT, "extended": True})
        return m, _holding(s, m, f"window ends at {_local(s, until)}, {car}: one slot more")
    # a window (one moved later, say) runs from this boundary: held on into it, since a
    # release now and a hold at the boundary would write the battery twice for a minute
    after = None if tariff is None else _smart_at(tariff, until)
    if inputs.car_drawing and after is not None and min(after.end, cap) > until:
        m = memory.model_copy(update={"until": min(after.end, cap), "extended": False})
        span = f"{_local(s, after.start)}-{_local(s, after.end)}"
        return m, _holding(s, m, f"smart window {span} runs from {_local(s, until)}; {car}")
    return DispatchMemory(), DispatchDecision(
        False, f"released at {_local(s, until)}: {why}; {car}"
    )


def _holding(s: DispatchSettings, m: DispatchMemory, why: str) -> DispatchDecision:
    assert m.until is not None
    reason = f"{why}: holding until {_local(s, m.until)}"
    return DispatchDecision(True, reason, m.sign, m.until)
