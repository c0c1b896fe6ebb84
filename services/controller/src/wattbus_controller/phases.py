"""1 or 3 phases: which a car draws on, which a charge starts on, and when a charger that can
switch should. The timers run on every step, whatever the phase count, in pauses too, so a
cloud or a pause forgets nothing: a charger dropped to 1 phase goes back to 3 once the sun
returns (evcc #21328). A switch is at least `SWITCH_INTERVAL` after the last, for the
contactor's sake."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from wattbus.models import ChargerState

PhaseChoice = Literal[1, 3, "auto"]  # fixed, or switched by the surplus where the charger can
UP_DELAY = 120.0  # s of three-phase surplus before switching up
DOWN_DELAY = 180.0  # s of too little for three phases before switching down
SWITCH_INTERVAL = 300.0  # s at least between two switches


class PhaseTimers(BaseModel):
    """Since when the surplus has been enough for three phases, or too little."""

    model_config = ConfigDict(frozen=True)

    three_since: datetime | None = None
    one_since: datetime | None = None


def in_use(state: ChargerState, asked: int | None, choice: PhaseChoice) -> int:
    """The phases a current is drawn on: the charger's word while the car charges (a car on two
    phases, a tripped fuse), else what was asked, else the configured choice."""
    if state.charging and state.phases is not None:
        return state.phases
    if asked is not None:
        return asked
    return 3 if choice == "auto" else choice


def for_start(choice: PhaseChoice, enough_for_three: bool) -> int:
    if choice != "auto":
        return choice
    return 3 if enough_for_three else 1


def may_switch(phased_at: datetime | None, now: datetime) -> bool:
    return phased_at is None or (now - phased_at).total_seconds() >= SWITCH_INTERVAL


def watch(timers: PhaseTimers, enough_for_three: bool, now: datetime) -> PhaseTimers:
    if enough_for_three:
        return PhaseTimers(three_since=timers.three_since or now)
    return PhaseTimers(one_since=timers.one_since or now)


def switch_to(
    asked: int | None, timers: PhaseTimers, now: datetime, up_delay: float, down_delay: float
) -> int | None:
    """The phase count to switch to now, if any, once `may_switch` allows a switch."""
    if asked == 1 and _held(timers.three_since, now, up_delay):
        return 3
    if asked == 3 and _held(timers.one_since, now, down_delay):
        return 1
    return None


def _held(since: datetime | None, now: datetime, delay: float) -> bool:
    return since is not None and (now - since).total_seconds() >= delay
