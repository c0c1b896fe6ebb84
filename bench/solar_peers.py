"""The rule sets wattbus's solar tracking is measured against, each a `solar_run.Rules`: a plain
baseline, evcc's defaults, openWB's defaults, and an oracle that knows the day in advance.

All of them drive the same charger as wattbus: 6 A at least, 16 A at most, in 1 A steps, on
3 phases or switching between 1 and 3; and all of them see what wattbus sees, the readings of
a step before. What they count as surplus is the same too, and the same as wattbus with its
default battery priority (the car first): the export, plus what the car draws, plus what the
house battery charges with (less what it discharges). evcc's "site power" is the car's draw
less it (grid plus battery, with `prioritySoc` unset), openWB's EVU surplus counts the battery
so in "EV mode" (its default `bat_mode`). A peer that sees the car full, or unplugged,
pauses: that much every charger knows.

Each peer runs on its own control interval and holds its decision in between.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from wattbus_controller.charging import MIN_CURRENT, ChargerSettings
from wattbus_controller.phases import PhaseChoice
from wattbus_simulator.solar_day import VOLTAGE, Reading, SolarDay

MAX_CURRENT = ChargerSettings().max_current  # A: the charger's most, for every rule set
STEP = ChargerSettings().step  # A: the charger takes whole amps


def free(seen: Reading) -> float:
    """W the car could have: the export, its own draw and the house battery's charging."""
    return seen.car - seen.grid + seen.battery


def whole(amps: float) -> float:
    """The current in the charger's steps, never above what was worked out."""
    return math.floor(amps / STEP + 1e-9) * STEP


def fixed(choice: PhaseChoice) -> int:
    return 3 if choice == "auto" else choice


@dataclass
class Baseline:
    """The plain script many owners start with: every 30 s the current is the surplus on the
    charger's phases, in whole amps up to 16 A; under 6 A it stops, at 6 A or more it starts.
    No delays, no margins, no phase switching."""

    phases: PhaseChoice = 3
    interval: float = 30.0
    _current: float | None = None
    _next: float = -math.inf

    def decide(self, seen: Reading, plugged: bool, car_full: bool) -> tuple[float | None, int]:
        phases = fixed(self.phases)
        if not plugged or car_full:
            self._current = None
        elif seen.t >= self._next:
            self._next = seen.t + self.interval
            amps = whole(free(seen) / (VOLTAGE * phases))
            self._current = min(amps, MAX_CURRENT) if amps >= MIN_CURRENT else None
        return self._current, phases


@dataclass
class Evcc:
    """evcc's PV mode with its defaults, from its documentation and its `core/loadpoint.go`.

    Documented defaults (https://docs.evcc.io/en/docs/reference/configuration/loadpoints, source
    evcc-io/docs): `enable` threshold 0 W, delay 1 m; `disable` threshold 0 W, delay 3 m;
    `guardduration` 5 m; `mincurrent` 6, `maxcurrent` 16; `phases: 0` switches automatically,
    the enable settings also timing 1p -> 3p and the disable settings 3p -> 1p. `interval` 30 s
    (https://docs.evcc.io/en/docs/reference/configuration/interval).

    The control cycle as `pvMaxCurrent` and `pvScalePhases` work it out (evcc-io/evcc,
    `core/loadpoint.go`), each 30 s:
    - the target current is the offered current (while the car charges) less the site power
      turned into amps on the active phases; a charger that takes whole amps gets it truncated;
    - disabled: a target of 6 A or more for 1 minute enables the charger, at 6 A;
    - enabled with a target under 6 A: it stays at 6 A, and while the site imports (0 W or
      more, counting a pending switch to 1 phase as done) for 3 minutes it is disabled;
    - enabling and disabling wait out the guard: 5 minutes since the last one;
    - phases, where the charger switches: down to 1 when 3 phases' 6 A exceed what is free and
      the site imports (or the charger is off), up to 3 when 1 phase's 16 A are exceeded and 3
      phases' 6 A are covered; while charging after the disable (3 m) or enable (1 m) delay,
      while not charging at once. On a switch up the current offered is spread over 3 phases.

    Assumed where neither says: the charger reports no phase currents, so the offered current
    is taken as what the car draws (evcc then uses the offered current too); phase switches
    are not held to the guard (the code above does not, the documentation says it does).
    """

    phases: PhaseChoice = 3
    interval: float = 30.0
    enable_delay: float = 60.0  # the enable threshold is 0 W: the target must reach 6 A
    disable_delay: float = 180.0
    guard: float = 300.0
    disable_threshold: float = 0.0  # W of site power (> 0 import) tolerated at the least current
    _enabled: bool = False
    _current: float = MIN_CURRENT
    _active: int = 3
    _pv_timer: float | None = None
    _phase_timer: float | None = None
    _guarded_at: float = -math.inf
    _next: float = -math.inf

    def __post_init__(self) -> None:
        self._active = fixed(self.phases)

    def decide(self, seen: Reading, plugged: bool, car_full: bool) -> tuple[float | None, int]:
        if not plugged or car_full:
            self._enabled, self._pv_timer = False, None
        elif seen.t >= self._next:
            self._next = seen.t + self.interval
            self._cycle(seen)
        return (self._current if self._enabled else None), self._active

    def _cycle(self, seen: Reading) -> None:
        site = seen.grid - seen.battery  # evcc's site power: > 0 import, battery charging < 0
        available = seen.car - site
        charging = seen.car > 0
        scaled = self._scale(available, site, charging, seen.t) if self.phases == "auto" else 0
        effective = self._current if self._enabled and charging else 0.0
        if scaled == 3:
            effective /= 3
        target = max(effective - site / (VOLTAGE * self._active), 0.0)
        if self._enabled and target < MIN_CURRENT:
            projected = site
            if self._phase_timer is not None:
                projected -= VOLTAGE * MIN_CURRENT * (self._active - 1)
            if projected >= self.disable_threshold:
                self._pv_timer = seen.t if self._pv_timer is None else self._pv_timer
                if seen.t - self._pv_timer >= self.disable_delay:
                    self._pv_timer = None
                    self._switch(False, seen.t)
                    return
            else:
                self._pv_timer = None
            self._current = MIN_CURRENT
            return
        if not self._enabled:
            if target >= MIN_CURRENT:
                self._pv_timer = seen.t if self._pv_timer is None else self._pv_timer
                if seen.t - self._pv_timer >= self.enable_delay:
                    self._pv_timer = None
                    if self._switch(True, seen.t):
                        self._current = MIN_CURRENT
            else:
                self._pv_timer = None
            return
        self._pv_timer = None
        self._current = whole(min(target, MAX_CURRENT))

    def _switch(self, on: bool, now: float) -> bool:
        """Enable or disable, unless the guard has not run out since the last time."""
        if now - self._guarded_at < self.guard:
            return False
        self._enabled, self._guarded_at = on, now
        return True

    def _scale(self, available: float, site: float, charging: bool, now: float) -> int:
        """The phase count switched to in this cycle, 0 for none."""
        waiting = False
        down = (site > 0 or not self._enabled) and self._active > 1
        if down and available / (VOLTAGE * self._active) < MIN_CURRENT:
            if not charging or self._phase_timer is None:
                self._phase_timer = -math.inf if not charging else now
            if now - self._phase_timer >= self.disable_delay:
                self._active, self._phase_timer = 1, None
                return 1
            waiting = True
        up = self._active < 3 and available / VOLTAGE > MAX_CURRENT
        if up and available / (VOLTAGE * 3) >= MIN_CURRENT:
            if not charging or self._phase_timer is None:
                self._phase_timer = -math.inf if not charging else now
            if now - self._phase_timer >= self.enable_delay:
                self._active, self._phase_timer = 3, None
                return 3
            waiting = True
        if not waiting:
            self._phase_timer = None
        return 0


@dataclass
class OpenWB:
    """openWB 2's PV charging with its defaults, from `packages/control/general.py` and the
    switch-on, switch-off and phase-switch code of `packages/control` (openWB/core).

    Defaults: `switch_on_threshold` 1500 W and `switch_on_delay` 30 s, `switch_off_threshold`
    0 W and `switch_off_delay` 60 s, `phase_switch_delay` 7 min, `control_range` [0, 230] W,
    `control_interval` 10 s; the wiki describes the rule ("startet die Ladung, wenn für die
    Dauer der Einschaltverzögerung die Einschaltschwelle überschritten wurde", and the
    Abschaltschwelle also counts the house battery's discharge:
    https://wiki.openwb.de/doku.php?id=openwb:software:ladeeinstellungen:pv-laden).

    The rules as the code applies them, every 10 s:
    - the switch-on threshold is per phase: 1500 W of surplus to start on 1 phase, 4500 W on 3;
      held for 30 s, the charge is allowed and starts at 6 A; with automatic switching a new
      charge starts on 1 phase and goes straight to 3 where the surplus already covers 3
      phases' 6 A;
    - the current follows the surplus: unchanged while the export is inside the control range,
      else moved by (surplus - the range's middle, 115 W) on the phases in use;
    - at 6 A with any import (the battery's discharge counted) for 60 s, the charge stops; an
      export again before then cancels it;
    - phases: 1 -> 3 once the car takes 16 A on 1 phase and the surplus covers 3 phases' 6 A,
      for 7 minutes; 3 -> 1 once it is at 6 A on 3 phases with no surplus, for 16 - 7 = 9
      minutes; the switch-off waits while a phase switch is pending.

    Assumed where the code is not plain: the control range is read as export (0-230 W of
    export, aiming at 115 W; versions differ in the sign), the switch-on compares the surplus
    without the range's offset, and currents are truncated to the charger's whole amps.
    """

    phases: PhaseChoice = 3
    interval: float = 10.0
    on_threshold: float = 1500.0  # W per phase
    on_delay: float = 30.0
    off_threshold: float = 0.0  # W of import
    off_delay: float = 60.0
    up_delay: float = 7 * 60.0
    down_delay: float = 9 * 60.0
    control_range: tuple[float, float] = (0.0, 230.0)  # W of export left alone
    _allowed: bool = False
    _current: float = MIN_CURRENT
    _active: int = 3
    _on_timer: float | None = None
    _off_timer: float | None = None
    _phase_timer: float | None = None
    _next: float = -math.inf

    def __post_init__(self) -> None:
        self._active = fixed(self.phases)

    def decide(self, seen: Reading, plugged: bool, car_full: bool) -> tuple[float | None, int]:
        if not plugged or car_full:
            self._allowed, self._on_timer, self._off_timer = False, None, None
        elif seen.t >= self._next:
            self._next = seen.t + self.interval
            if self._allowed:
                self._follow(seen)
            else:
                self._maybe_start(seen)
        return (self._current if self._allowed else None), self._active

    def _maybe_start(self, seen: Reading) -> None:
        surplus = free(seen)
        if self.phases == "auto":
            self._active = 1
        if surplus <= self.on_threshold * self._active:
            self._on_timer = None
            return
        self._on_timer = seen.t if self._on_timer is None else self._on_timer
        if seen.t - self._on_timer >= self.on_delay:
            self._on_timer, self._allowed, self._current = None, True, MIN_CURRENT
            if self.phases == "auto" and surplus > VOLTAGE * MIN_CURRENT * 3:
                self._active = 3

    def _follow(self, seen: Reading) -> None:
        export = seen.battery - seen.grid  # > 0: spare, the battery's charging counted
        if self.phases == "auto" and self._switch_phases(seen, export):
            return
        if self._phase_timer is None and self._stop(export, seen.t):
            return
        low, high = self.control_range
        surplus = 0.0 if low < export < high else export - (low + high) / 2
        amps = whole(self._current + surplus / (VOLTAGE * self._active))
        self._current = min(max(amps, MIN_CURRENT), MAX_CURRENT)

    def _stop(self, export: float, now: float) -> bool:
        importing = -export > self.off_threshold
        if self._off_timer is None:
            if importing and self._current <= MIN_CURRENT:
                self._off_timer = now
            return False
        if not importing:
            self._off_timer = None
            return False
        if now - self._off_timer < self.off_delay:
            return False
        self._allowed, self._off_timer = False, None
        return True

    def _switch_phases(self, seen: Reading, export: float) -> bool:
        if self._active == 1:
            wanted = self._current >= MAX_CURRENT and (
                export > VOLTAGE * MIN_CURRENT * 3 - seen.car
            )
            delay, to, amps = self.up_delay, 3, MIN_CURRENT
        else:
            wanted = self._current <= MIN_CURRENT and export <= 0
            delay, to, amps = self.down_delay, 1, MAX_CURRENT
        if not wanted:
            self._phase_timer = None
            return False
        self._off_timer = None  # the switch-off waits for the phase switch
        self._phase_timer = seen.t if self._phase_timer is None else self._phase_timer
        if seen.t - self._phase_timer < delay:
            return False
        self._active, self._current, self._phase_timer = to, amps, None
        return True


def foresight(twin: SolarDay, dt: float, start: float, end: float) -> list[float]:
    """W the sun leaves over the house at each step of a run from `start` to `end`, read from a
    twin of the day (the same seed) sampled at the run's own times, so its clouds come out the
    same: the run's own day is not touched."""
    ahead = []
    t = start
    while t < end + dt / 2:
        ahead.append(twin.array.power(t) - twin.load.power(t))
        t += dt
    return ahead


@dataclass
class Oracle:
    """The limit. It knows, without lag, what the sun leaves over the house's load at the very
    step its offer applies to (read in advance from a twin of the day), and offers the most
    current in the charger's whole amps, 6 A to 16 A, that this covers, on whichever allowed
    phase count gives more; under 6 A it pauses. No start or stop delay, no limit on changes,
    cycles or phase switches, the car first (the house battery gets only what is left).

    It never takes from the grid or the house battery on purpose; what it still takes from
    the battery is the car's ramp (a few seconds to follow a new current) meeting a falling
    sun. So it bounds the solar kWh of every rule set that keeps the car within the surplus.
    One that lets the house battery cover what it offers beyond the surplus (a fraction of an
    amp, or 6 A through a shade) counts all the surplus of that time as solar, and can pass
    the oracle by that much (a few tenths of a kWh on an overcast day with 1/3 switching); the
    solar goal measures against this oracle all the same, as the issue defines it."""

    ahead: list[float]  # from `foresight`
    start: float
    dt: float
    phases: PhaseChoice = 3
    _active: int = 3

    def __post_init__(self) -> None:
        self._active = fixed(self.phases)

    def decide(self, seen: Reading, plugged: bool, car_full: bool) -> tuple[float | None, int]:
        if not plugged or car_full:
            return None, self._active
        power = self.ahead[round((seen.t + self.dt - self.start) / self.dt)]
        best: tuple[float, int] | None = None
        for phases in (1, 3) if self.phases == "auto" else (fixed(self.phases),):
            amps = min(whole(power / (VOLTAGE * phases)), MAX_CURRENT)
            if amps >= MIN_CURRENT and (best is None or amps * phases > best[0] * best[1]):
                best = (amps, phases)
        if best is None:
            return None, self._active
        self._active = best[1]
        return best
