"""How a tracked charger is told what the charging policy decided, in its bridge's own command
fields, and whether its state shows it took it.

- An NRGKICK takes a current, pause or resume, and (where its app allows) a phase count: the
  policy's target as it is.
- A SmartEVSE takes a current as an override in Normal mode, and Off to pause. Its own Solar
  mode, fed by the smartevse bridge, is the other way to track: then leave it out of
  `WATTBUS_CONTROLLER_SOLAR_CHARGERS`.
- A Zappi takes no current from outside: it tracks the surplus itself in Eco+ (surplus only)
  and Eco (the least current, more from surplus). A strategy maps to its mode, and the
  policy's currents, delays and phase choice do not apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from wattbus.models import ChargerMode, ChargerState, ChargingStrategy

from wattbus_controller.settings import ChargerKind

ZAPPI_MODES = {  # the Zappi's own words, as its bridge takes them in `mode_name`
    ChargingStrategy.OFF: "Stopped",
    ChargingStrategy.SLOW: "Eco",
    ChargingStrategy.MIN_PV: "Eco",
    ChargingStrategy.TRACKED: "Eco+",
    ChargingStrategy.FAST: "Fast",
}


@dataclass(frozen=True)
class Order:
    """One charger's part of a verdict: `current` None pauses; `strategy` for a Zappi."""

    current: float | None
    phases: int | None
    strategy: ChargingStrategy


def command(kind: ChargerKind, order: Order) -> dict[str, object]:
    """The fields for the charger's `set` topic."""
    if kind == "zappi":
        return {"mode_name": ZAPPI_MODES[order.strategy]}
    if kind == "smartevse":
        if order.current is None:
            return {"mode": ChargerMode.OFF.value}
        return {"mode": ChargerMode.NORMAL.value, "current_override": order.current}
    if order.current is None:
        return {"mode": ChargerMode.PAUSE.value}
    out: dict[str, object] = {"mode": ChargerMode.NORMAL.value, "current": order.current}
    if order.phases is not None:
        out["phases"] = order.phases
    return out


def shows(kind: ChargerKind, order: Order, state: ChargerState) -> bool:
    """Whether the charger's state shows the order taken (a charge that ended since is taken)."""
    if kind == "zappi":
        return state.mode_name == ZAPPI_MODES[order.strategy]
    if kind == "smartevse":
        if order.current is None:
            return state.mode is ChargerMode.OFF
        return state.mode is ChargerMode.NORMAL and state.current_override == order.current
    if order.current is None:
        return state.mode is ChargerMode.PAUSE
    return state.mode is not ChargerMode.PAUSE and state.current == order.current
