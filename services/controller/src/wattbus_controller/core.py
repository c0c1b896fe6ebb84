"""The controller's functional core: every policy, then the arbiter. Pure: states, memory and
`now` in; memory and one verdict per battery out. The shell only feeds it and carries out the
verdicts, so a day of decisions can be replayed with plain values and a fake clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from wattbus.inputs import fresh
from wattbus.models import (
    BatteryState,
    ChargerState,
    ChargingStrategy,
    ControllerMode,
    InverterState,
    MeterState,
    PlugState,
    State,
    TariffState,
)

from wattbus_controller import charging, clouds, dispatch, ev_guard
from wattbus_controller import plugs as plug_rules
from wattbus_controller.arbiter import ChargerVerdict, Verdict, arbitrate, charger_verdicts
from wattbus_controller.intents import Intent, PolicyView, view
from wattbus_controller.surplus import BatteryPriority, Surplus, surplus

St = TypeVar("St", bound=State)


@dataclass(frozen=True)
class CoreSettings:
    mode: ControllerMode
    batteries: tuple[str, ...]
    guard: ev_guard.GuardSettings
    dispatch: dispatch.DispatchSettings
    guard_batteries: tuple[str, ...] | None = None  # the batteries the guard holds; None: all
    charging: charging.ChargingSettings | None = None  # None: no charger tracked
    priority: BatteryPriority = field(default_factory=BatteryPriority)
    solar_battery: str | None = None  # whose SoC and power count; None: none
    pv: tuple[str, ...] = ()  # the inverters; none: the solar battery's own PV input
    plugs: plug_rules.PlugsSettings | None = None  # None: no plug switched


@dataclass(frozen=True)
class Inputs:
    guard: ev_guard.GuardInputs
    tariff: TariffState | None = None
    tariff_online: bool | None = None
    chargers: Mapping[str, ChargerState | None] = field(default_factory=dict)  # tracked ones
    chargers_online: Mapping[str, bool | None] = field(default_factory=dict)
    inverters: Mapping[str, InverterState | None] = field(default_factory=dict)
    plugs: Mapping[str, PlugState | None] = field(default_factory=dict)
    plugs_online: Mapping[str, bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Memories:
    guard: ev_guard.GuardMemory
    dispatch: dispatch.DispatchMemory
    charging: charging.ChargingMemory = field(default_factory=charging.ChargingMemory)
    plugs: Mapping[str, plug_rules.PlugMemory] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    guard: ev_guard.Decision
    dispatch: dispatch.DispatchDecision | None  # None: no tariff configured
    verdicts: dict[str, Verdict]
    policies: dict[str, PolicyView]
    chargers: dict[str, ChargerVerdict] = field(default_factory=dict)
    surplus: Surplus | None = None
    cloudy: bool = False
    plugs: dict[str, plug_rules.PlugDecision] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """One line for the whole home: the batteries' common reason, or each one's."""
        reasons = {v.reason for v in self.verdicts.values()}
        if len(reasons) == 1:
            return reasons.pop()
        return "; ".join(f"{b}: {v.reason}" for b, v in self.verdicts.items())


def car_drawing(
    s: ev_guard.GuardSettings,
    inputs: ev_guard.GuardInputs,
    guard: ev_guard.Decision,
    memory: ev_guard.GuardMemory,
) -> tuple[bool, str]:
    """Whether the car draws power now, for dispatch: a usable charger's own word as it
    stands (the guard's release wait is there to spare a battery two changes, and a dispatch
    hold ends at a slot boundary anyway), else the guard's session by house power."""
    if guard.signal == "charger" and inputs.charger is not None:
        state = "charging" if inputs.charger.charging else "not charging"
        return inputs.charger.charging, f"charger {s.charger} {state}"
    return memory.charging, guard.reason


def decide(
    s: CoreSettings, inputs: Inputs, memory: Memories, now: datetime
) -> tuple[Memories, Decision]:
    guard_memory, guard = ev_guard.step(s.guard, inputs.guard, memory.guard, now)
    guarded = s.batteries if s.guard_batteries is None else s.guard_batteries
    guard_intents = [Intent("ev_guard", b, guard.hold, guard.reason) for b in guarded]
    intents = list(guard_intents)
    policies = {"ev_guard": view(guard.reason, guard_intents)}
    dispatch_memory, dispatched = memory.dispatch, None
    if s.dispatch.tariff is not None:
        drawing, why = car_drawing(s.guard, inputs.guard, guard, guard_memory)
        car = dispatch.DispatchInputs(inputs.tariff, inputs.tariff_online, drawing, why)
        dispatch_memory, dispatched = dispatch.step(s.dispatch, car, memory.dispatch, now)
        wanted = s.dispatch.batteries if dispatched.hold else ()
        dispatch_intents = [Intent("dispatch", b, True, dispatched.reason) for b in wanted]
        intents += dispatch_intents
        policies["dispatch"] = view(dispatched.reason, dispatch_intents)
    verdicts = arbitrate(s.mode, s.batteries, intents)
    charging_memory, share = memory.charging, None
    chargers: dict[str, ChargerVerdict] = {}
    reserve = 0.0
    if s.charging is not None:
        smart = _smart_window(s.dispatch, inputs, dispatch_memory, now)
        charging_memory, chargers, share, reserve = _track(
            s, s.charging, inputs, memory.charging, smart, now
        )
    plug_memory = dict(memory.plugs)
    switched: dict[str, plug_rules.PlugDecision] = {}
    if s.plugs is not None and s.mode is not ControllerMode.OFF:
        plug_memory, switched = _switch(s, s.plugs, inputs, memory.plugs, reserve, now)
    return Memories(guard_memory, dispatch_memory, charging_memory, plug_memory), Decision(
        guard, dispatched, verdicts, policies, chargers, share, charging_memory.sky.cloudy,
        switched,
    )  # fmt: skip


def _switch(
    s: CoreSettings,
    ps: plug_rules.PlugsSettings,
    inputs: Inputs,
    memory: Mapping[str, plug_rules.PlugMemory],
    reserve: float,
    now: datetime,
) -> tuple[dict[str, plug_rules.PlugMemory], dict[str, plug_rules.PlugDecision]]:
    states = _usable(inputs.plugs, inputs.plugs_online, ps.plugs, s, now)
    battery = _house_battery(s, inputs, now)
    meter = _instant_meter(s, inputs, now)
    return plug_rules.step(ps, plug_rules.PlugsInputs(states, meter, battery, reserve), memory, now)


def _instant_meter(s: CoreSettings, inputs: Inputs, now: datetime) -> MeterState | None:
    """The meter for following the sun: fresh, and a reading of now. A cloud meter's block
    (a Smappee's 5 minutes, shown minutes late) serves the EV guard, whose delays are minutes
    anyway, but a current set from it would follow a sky long gone: tracking pauses instead."""
    meter = fresh(inputs.guard.meter, now, s.guard.stale_after)
    return None if meter is None or meter.span else meter


def _usable(
    states: Mapping[str, St | None],
    online: Mapping[str, bool | None],
    ids: Iterable[str],
    s: CoreSettings,
    now: datetime,
) -> dict[str, St | None]:
    """Each device's state while it is fresh and its bridge not `offline`, else None."""
    return {
        i: fresh(states.get(i), now, s.guard.stale_after) if online.get(i) is not False else None
        for i in ids
    }


def _house_battery(s: CoreSettings, inputs: Inputs, now: datetime) -> BatteryState | None:
    if s.solar_battery is None:
        return None
    return fresh(inputs.guard.batteries.get(s.solar_battery), now, s.guard.stale_after)


def _smart_window(
    s: dispatch.DispatchSettings, inputs: Inputs, memory: dispatch.DispatchMemory, now: datetime
) -> str | None:
    """Why a supplier's smart window runs now (it charges the car then), else None."""
    if s.tariff is None:
        return None
    car = dispatch.DispatchInputs(inputs.tariff, inputs.tariff_online, False, "")
    tariff, _ = dispatch.usable_tariff(s, car, now, holding=memory.until is not None)
    if tariff is None:
        return None
    window, _, why = dispatch.running(s, tariff, now)
    return why if window is not None else None


def _track(
    s: CoreSettings,
    cs: charging.ChargingSettings,
    inputs: Inputs,
    memory: charging.ChargingMemory,
    smart: str | None,
    now: datetime,
) -> tuple[charging.ChargingMemory, dict[str, ChargerVerdict], Surplus | None, float]:
    """The charging policy on fresh inputs; during a smart window the supplier charges the
    car, so every charger not switched off by its owner gets the most current."""
    chargers = _usable(inputs.chargers, inputs.chargers_online, cs.chargers, s, now)
    meter = _instant_meter(s, inputs, now)
    battery = _house_battery(s, inputs, now)
    cars = [c for c in chargers.values() if c is not None]
    share = (
        None
        if meter is None
        else surplus(s.priority, meter, cars, battery, _yielding(s, inputs, now))
    )
    sky = clouds.observe(memory.sky, _pv(s, inputs, battery, now), cs.pv_peak, now)
    if smart is not None:
        cs = replace(cs, chargers={cid: _fast(c) for cid, c in cs.chargers.items()})
    after, targets = charging.step(cs, charging.ChargingInputs(chargers, share, sky, battery),
                                   memory, now)  # fmt: skip
    reserve = charging.reserved(cs, chargers, after, targets)
    return after, charger_verdicts(s.mode, targets, smart), share, reserve


def _yielding(s: CoreSettings, inputs: Inputs, now: datetime) -> float:
    """W the plugs on surplus draw now, where they give way to the cars."""
    if s.plugs is None or not s.plugs.car_first:
        return 0.0
    found = [fresh(inputs.plugs.get(p), now, s.guard.stale_after) for p in s.plugs.plugs]
    return sum(p.power or 0.0 for p in found if p is not None and p.on)


def _fast(c: charging.ChargerSettings) -> charging.ChargerSettings:
    return c if c.strategy is ChargingStrategy.OFF else replace(c, strategy=ChargingStrategy.FAST)


def _pv(
    s: CoreSettings, inputs: Inputs, battery: BatteryState | None, now: datetime
) -> float | None:
    """W the panels give now: the inverters' output, or the house battery's PV input."""
    if s.pv:
        found = [fresh(inputs.inverters.get(i), now, s.guard.stale_after) for i in s.pv]
        readings = [i.power for i in found if i is not None]
        return sum(readings) if readings else None
    return None if battery is None else battery.pv_power
