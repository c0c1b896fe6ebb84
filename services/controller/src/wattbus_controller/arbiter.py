"""One command per battery from every policy's intents, by a written priority
(docs/architecture.md, "Who decides"):

1. The owner's mode. `pause` holds every battery and `resume` releases every one, whatever the
   policies want; `off` leaves them alone (only holds the controller placed are finished).
2. A hold wins over a release: the EV guard and dispatch each protect the battery from a
   different loss, and either is reason enough. The winner named is the first holding policy
   in `POLICIES` order; the reason names every policy that holds.
3. Otherwise a release, if any policy asks for one.
4. Otherwise nothing: the battery is left as it is.

A policy whose inputs are stale asserts no hold (each policy checks its own inputs' age), so a
silent meter or tariff can never keep a battery held.

A tracked charger gets one verdict too:

1. The owner's mode `off` leaves every charger alone, as it leaves the batteries.
2. A strategy the owner set to `off` pauses the charger, whatever else runs.
3. While the supplier's smart window runs, the supplier charges the car: the charger gets its
   most current (dispatch), so tracking never pauses a charge the supplier has planned.
4. Otherwise the charging strategy's target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from wattbus.models import ChargingStrategy, ControllerMode

from wattbus_controller.charging import Action, Target
from wattbus_controller.intents import Intent

OWNER = "owner"  # the winner when the owner's mode decides
POLICIES = ("ev_guard", "dispatch")  # priority among policies that want the same thing


class Verdict(BaseModel):
    """For one battery: `hold` True hold, False release (any hold), None leave alone (only
    finishing the controller's own holds); who decided and why."""

    model_config = ConfigDict(frozen=True)

    hold: bool | None
    winner: str | None
    reason: str


@dataclass(frozen=True)
class _Ranked:
    intents: Sequence[Intent]

    def first(self) -> Intent:
        return min(self.intents, key=lambda i: _rank(i.policy))

    def reason(self) -> str:
        """One policy's reason as it gave it; several, each named."""
        if len(self.intents) == 1:
            return self.intents[0].reason
        ordered = sorted(self.intents, key=lambda i: _rank(i.policy))
        return "; ".join(f"{i.policy}: {i.reason}" for i in ordered)


def _rank(policy: str) -> int:
    return POLICIES.index(policy) if policy in POLICIES else len(POLICIES)


def arbitrate(
    mode: ControllerMode, batteries: Iterable[str], intents: Iterable[Intent]
) -> dict[str, Verdict]:
    wanted = list(intents)
    verdicts = {}
    for battery in batteries:
        verdicts[battery] = _one(mode, [i for i in wanted if i.battery == battery])
    return verdicts


def _one(mode: ControllerMode, intents: list[Intent]) -> Verdict:
    if mode is ControllerMode.OFF:
        return Verdict(hold=None, winner=OWNER, reason="off: batteries left alone")
    if mode is ControllerMode.PAUSE:
        return Verdict(hold=True, winner=OWNER, reason="paused by hand: holding")
    if mode is ControllerMode.RESUME:
        return Verdict(hold=False, winner=OWNER, reason="resumed by hand: not holding")
    holds = _Ranked([i for i in intents if i.hold])
    if holds.intents:
        return Verdict(hold=True, winner=holds.first().policy, reason=holds.reason())
    releases = _Ranked([i for i in intents if not i.hold])
    if releases.intents:
        return Verdict(hold=False, winner=releases.first().policy, reason=releases.reason())
    return Verdict(hold=None, winner=None, reason="no policy wants anything of it")


class ChargerVerdict(BaseModel):
    """For one tracked charger: what it is told, under which strategy, who decided and why."""

    model_config = ConfigDict(frozen=True)

    action: Action
    current: float | None
    phases: int | None
    strategy: ChargingStrategy
    winner: str
    reason: str


def charger_verdicts(
    mode: ControllerMode, targets: Mapping[str, Target], smart: str | None
) -> dict[str, ChargerVerdict]:
    """`smart`: why the supplier's window runs now, None if none does. The charging policy has
    already given the chargers their most current for it (`core`); this says who won."""
    out = {}
    for cid, t in targets.items():
        if mode is ControllerMode.OFF:
            out[cid] = ChargerVerdict(action="leave", current=None, phases=None,
                                      strategy=t.strategy, winner=OWNER,
                                      reason="off: chargers left alone")  # fmt: skip
            continue
        winner, reason = "charging", t.reason
        if smart is not None and t.strategy is not ChargingStrategy.OFF:
            winner, reason = "dispatch", f"{smart}: the supplier charges; {t.reason}"
        out[cid] = ChargerVerdict(action=t.action, current=t.current, phases=t.phases,
                                  strategy=t.strategy, winner=winner, reason=reason)  # fmt: skip
    return out
