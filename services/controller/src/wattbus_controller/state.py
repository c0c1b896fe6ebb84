"""What the controller publishes: its state on `wattbus/controller/state`, and the Home
Assistant entities made of it."""

from __future__ import annotations

import json
from datetime import datetime

from wattbus.discovery import DeviceInfo, Entity, bounds
from wattbus.models import ChargingStrategy, ControllerMode, State, Threshold
from wattbus.topics import CONTROLLER_ID

from wattbus_controller.arbiter import ChargerVerdict, Verdict
from wattbus_controller.dispatch import Sign
from wattbus_controller.ev_guard import Signal
from wattbus_controller.intents import PolicyView
from wattbus_controller.overrides import Override
from wattbus_controller.plugs import PlugDecision


class ControllerState(State):
    mode: ControllerMode
    threshold: float
    confirm: float
    release: float
    ev_charging: bool
    house_power: float | None
    signal: Signal  # what the detection went by: the charger, the threshold, or nothing
    holding: list[str]
    reason: str
    meter: str
    batteries: list[str]
    charger: str | None = None
    tariff: str | None = None
    dispatch_until: datetime | None = None  # the slot boundary a dispatch hold runs to
    dispatch_sign: Sign | None = None  # what says a dispatch runs: the planned list or the device
    overrides: dict[str, Override]  # values saved at run time, against the configured ones
    devices: dict[str, Verdict]  # per battery: what it gets, which policy (or the owner) won, why
    policies: dict[str, PolicyView]  # per policy: what it wants of each battery, and why
    # solar tracking, where a charger is tracked
    chargers: dict[str, ChargerVerdict]  # per tracked charger: what it is told, who, why
    strategies: dict[str, ChargingStrategy]  # per tracked charger, in force now
    surplus: float | None = None  # W the cars may share now; None: no fresh meter
    cloudy: bool | None = None  # None: no cloud detection (no PV signal or peak)
    plugs: dict[str, PlugDecision]  # per plug switched on surplus: on, off or left, and why


DEVICE = DeviceInfo(CONTROLLER_ID, "wattbus controller", "wattbus", "EV guard")
ENTITIES = (
    Entity("ev_charging", "binary_sensor", "EV charging", device_class="battery_charging"),
    Entity("mode", "select", "Mode", writable=True, options=tuple(m.value for m in ControllerMode)),
    Entity(
        "threshold", "number", "EV threshold", unit="W", device_class="power", writable=True,
        minimum=bounds(Threshold)[0], maximum=bounds(Threshold)[1], step=100, category="config",
    ),
    Entity(
        "house_power", "sensor", "House power", unit="W", device_class="power",
        state_class="measurement", precision=0,
    ),
    Entity("reason", "sensor", "Decision"),
    Entity("signal", "sensor", "Detection signal", category="diagnostic"),
    Entity("dispatch_until", "sensor", "Dispatch hold until", device_class="timestamp"),
)  # fmt: skip


def strategy_entities(chargers: list[str]) -> tuple[Entity, ...]:
    """One strategy select per tracked charger, set through the JSON `set` topic."""
    out = []
    for cid in chargers:
        key = cid.replace("-", "_")
        template = json.dumps({"strategies": {cid: "@"}}).replace('"@"', '"{{ value }}"')
        out.append(Entity(
            f"strategy_{key}", "select", f"Strategy {cid}", writable=True,
            options=tuple(s.value for s in ChargingStrategy),
            value_path=f"strategies[{json.dumps(cid)}]", command_template=template,
        ))  # fmt: skip
    if chargers:
        out.append(Entity.power("surplus", "Solar surplus"))
        out.append(Entity("cloudy", "binary_sensor", "Cloudy", category="diagnostic"))
    return tuple(out)
