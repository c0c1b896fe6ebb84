"""The controller's functional core: every policy, then the arbiter. Pure: states, memory and
`now` in; memory and one verdict per battery out. The shell only feeds it and carries out the
verdicts, so a day of decisions can be replayed with plain values and a fake clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wattbus.models import ControllerMode, TariffState

from wattbus_controller import dispatch, ev_guard
from wattbus_controller.arbiter import Verdict, arbitrate
from wattbus_controller.intents import Intent, PolicyView, view


@dataclass(frozen=True)
class CoreSettings:
    mode: ControllerMode
    batteries: tuple[str, ...]
    guard: ev_guard.GuardSettings
    dispatch: dispatch.DispatchSettings


@dataclass(frozen=True)
class Inputs:
    guard: ev_guard.GuardInputs
    tariff: TariffState | None = None
    tariff_online: bool | None = None


@dataclass(frozen=True)
class Memories:
    guard: ev_guard.GuardMemory
    dispatch: dispatch.DispatchMemory


@dataclass(frozen=True)
class Decision:
    guard: ev_guard.Decision
    dispatch: dispatch.DispatchDecision | None  # None: no tariff configured
    verdicts: dict[str, Verdict]
    policies: dict[str, PolicyView]

    @property
    def reason(self) -> str:
        """One line for the whole home: the batteries' common reason, or each one's."""
        reasons = {v.reason for v in self.verdicts.values()}
        if len(reasons) == 1:
            return reasons.pop()
        return "; ".join(f"{b}: {v.reason}" for b, v in self.verdicts.items())


def decide(
    s: CoreSettings, inputs: Inputs, memory: Memories, now: datetime
) -> tuple[Memories, Decision]:
    guard_memory, guard = ev_guard.step(s.guard, inputs.guard, memory.guard, now)
    guard_intents = [Intent("ev_guard", b, guard.hold, guard.reason) for b in s.batteries]
    intents = list(guard_intents)
    policies = {"ev_guard": view(guard.reason, guard_intents)}
    dispatch_memory, dispatched = memory.dispatch, None
    if s.dispatch.tariff is not None:
        car = dispatch.DispatchInputs(
            inputs.tariff, inputs.tariff_online, guard_memory.charging, guard.reason
        )
        dispatch_memory, dispatched = dispatch.step(s.dispatch, car, memory.dispatch, now)
        wanted = s.dispatch.batteries if dispatched.hold else ()
        dispatch_intents = [Intent("dispatch", b, True, dispatched.reason) for b in wanted]
        intents += dispatch_intents
        policies["dispatch"] = view(dispatched.reason, dispatch_intents)
    verdicts = arbitrate(s.mode, s.batteries, intents)
    return Memories(guard_memory, dispatch_memory), Decision(guard, dispatched, verdicts, policies)
