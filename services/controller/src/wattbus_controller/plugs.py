"""Smart plugs on surplus: a load that is worth running only on the sun's power (a heating rod,
a pool pump) is switched on while the home has power to spare, and off when it would draw
from the grid.

A pure policy: `step(settings, inputs, memory, now) -> (memory, decisions)`. For each plug:

- on once the surplus, with the plug's own draw counted back, reaches `on_above`, the house
  battery is at `min_soc` or more, the local time is inside one of `windows` (none: all day)
  and past `start`, and the plug has been off for `min_off`;
- off once that surplus falls below `off_below` (by default the plug's own draw: it would
  import), or the time leaves its windows, after it has been on for `min_on`;
- the house battery's charging counts as surplus only once it is at `battery_full_soc`: until
  then the battery fills first;
- the car comes first (`car_first`): what a tracked car is being given, and the least current
  of one that waits to start, is kept from the plugs. Plugs share what is left in their order.

A plug whose state is unknown, offline or stale is left alone; a meter that falls silent
switches a plug off (an unwatched load could import for hours), within its `min_on`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from wattbus.models import BatteryState, MeterState, PlugState

MIN_ON = 300.0  # s a load runs at least once switched on
MIN_OFF = 300.0  # s it rests at least once switched off


@dataclass(frozen=True)
class PlugSettings:
    on_above: float = 2000.0  # W of surplus that switches it on
    off_below: float | None = None  # W under which it goes off; None: its own draw
    min_soc: float = 0.0  # % the house battery must have
    windows: tuple[tuple[time, time], ...] = ()  # local hours it may run; none: any
    start: time = time(0, 0)  # local time before which it never runs
    min_on: float = MIN_ON
    min_off: float = MIN_OFF


@dataclass(frozen=True)
class PlugsSettings:
    plugs: Mapping[str, PlugSettings]  # in priority order
    timezone: ZoneInfo
    car_first: bool = True
    battery_full_soc: float = 100.0  # % from which the battery's charging counts as surplus


class PlugMemory(BaseModel):
    model_config = ConfigDict(frozen=True)

    on: bool | None = None  # as last decided; None: never decided
    since: datetime | None = None  # when it was last switched


@dataclass(frozen=True)
class PlugsInputs:
    plugs: Mapping[str, PlugState | None]  # fresh and online, else None
    meter: MeterState | None  # fresh, else None
    battery: BatteryState | None
    car_reserve: float  # W the cars are given or wait for, kept from the plugs if car first


@dataclass(frozen=True)
class PlugDecision:
    on: bool | None  # None: left alone
    reason: str


def in_hours(s: PlugSettings, local: time) -> bool:
    if local < s.start:
        return False
    if not s.windows:
        return True
    return any((a <= local < b) if a <= b else (local >= a or local < b) for a, b in s.windows)


def spare(s: PlugsSettings, inputs: PlugsInputs) -> float | None:
    """W the plugs may share: the export with every plug's draw counted back, the battery's
    charging once it is nearly full, less what the cars are kept."""
    if inputs.meter is None:
        return None
    drawn = sum(p.power or 0.0 for p in inputs.plugs.values() if p is not None and p.on)
    total = -inputs.meter.power + drawn
    b = inputs.battery
    if b is not None and b.power > 0 and b.soc >= s.battery_full_soc:
        total += b.power
    return total - (inputs.car_reserve if s.car_first else 0.0)


def step(
    s: PlugsSettings, inputs: PlugsInputs, memory: Mapping[str, PlugMemory], now: datetime
) -> tuple[dict[str, PlugMemory], dict[str, PlugDecision]]:
    left = spare(s, inputs)
    local = now.astimezone(s.timezone).time()
    soc = None if inputs.battery is None else inputs.battery.soc
    memories, decisions = dict(memory), {}
    for pid, p in s.plugs.items():
        state = inputs.plugs.get(pid)
        m = memory.get(pid, PlugMemory())
        if state is None:
            decisions[pid] = PlugDecision(None, "plug unknown, offline or stale: left as it is")
            continue
        wanted, why = _wanted(p, state, left, soc, in_hours(p, local))
        on, reason = _timed(p, m, state, wanted, why, now)
        if on != m.on:
            m = PlugMemory(on=on, since=now)
        memories[pid], decisions[pid] = m, PlugDecision(on, reason)
        if left is not None and on:
            left -= _load(p, state)
    return memories, decisions


def _load(p: PlugSettings, state: PlugState) -> float:
    """W the plug's load takes: as measured while on, else what switching it on needs."""
    return state.power if state.on and state.power else p.on_above


def _wanted(
    p: PlugSettings, state: PlugState, left: float | None, soc: float | None, hours: bool
) -> tuple[bool, str]:
    if left is None:
        return False, "meter silent: off"
    if not hours:
        return False, "outside its hours"
    if soc is not None and soc < p.min_soc:
        return False, f"battery {soc:.0f} % < {p.min_soc:.0f} %"
    if state.on:
        floor = p.off_below if p.off_below is not None else (state.power or 0.0)
        if left < floor:
            return False, f"surplus {left:.0f} W < {floor:.0f} W"
        return True, f"surplus {left:.0f} W"
    if left >= p.on_above:
        return True, f"surplus {left:.0f} W >= {p.on_above:.0f} W"
    return False, f"surplus {left:.0f} W < {p.on_above:.0f} W"


def _timed(
    p: PlugSettings, m: PlugMemory, state: PlugState, wanted: bool, why: str, now: datetime
) -> tuple[bool, str]:
    """The wanted state once the minimum on and off times allow it."""
    if wanted == state.on or m.since is None or m.on != state.on:
        return wanted, why  # nothing to switch, or a switch of the owner's: no wait owed
    age = (now - m.since).total_seconds()
    wait = p.min_on if state.on else p.min_off
    if age < wait:
        held = "on" if state.on else "off"
        return state.on, f"{why}, but {held} for {wait - age:.0f} s more"
    return wanted, why
