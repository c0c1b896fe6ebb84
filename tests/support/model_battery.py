"""A battery with the Powerwall's shape, kept in memory, for the shared hold's own tests: a
text setting (`operation`) and a percent (`reserve`), applied as two separate commands of
which one can be silently dropped, a reserve cap it refuses above (80 % on Tesla's cloud
routes), and a gateway that can be unreachable. It keeps its state like a device and is driven
only through its port: nothing of the holder is replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict
from wattbus.hold import RefusedError, Settings, SettingSpec, Value
from wattbus.models import HoldRoute

Operation = Literal["self_consumption", "backup", "autonomous"]
OPERATIONS = ("self_consumption", "backup", "autonomous")

SPECS = {
    "operation": SettingSpec("operation"),
    "reserve": SettingSpec("backup reserve", "%", tolerance=0.5),
}


class ModelError(Exception):
    """Base of the model gateway's errors."""


class Unreachable(ModelError):
    pass


class Refused(ModelError, RefusedError):
    pass


@dataclass
class Gateway:
    """The device: what it has, what it caps, what it drops, every write it was sent."""

    operation: str = "self_consumption"
    reserve: float = 20.0
    max_reserve: float = 100.0  # a write above this is refused whole
    drop: set[str] = field(default_factory=set)  # parts of every write silently not applied
    reachable: bool = True
    stand_in_reserve: float | None = None  # a reserve it always takes, if it has one
    writes: list[Settings] = field(default_factory=list)


@dataclass(frozen=True)
class Reading:
    operation: str
    reserve: float


class Saved(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    operation: Operation
    reserve: float


class GatewayPort:
    """The device's side of the hold, as a Powerwall bridge would write it."""

    specs = SPECS
    saved_model = Saved
    errors = (ModelError,)

    def __init__(self, gateway: Gateway, held_reserve: float = 100.0) -> None:
        self.gateway = gateway
        self.routes: tuple[tuple[HoldRoute, Settings], ...] = (
            (HoldRoute.BACKUP, {"operation": "backup", "reserve": held_reserve}),
        )

    async def read(self) -> Reading:
        g = self._reach()
        return Reading(g.operation, g.reserve)

    async def write(self, settings: Settings, restoring: Saved | None) -> None:
        g = self._reach()
        g.writes.append(dict(settings))
        operation, reserve = settings.get("operation"), settings.get("reserve")
        if operation is not None and operation not in OPERATIONS:
            raise Refused(f"operation {operation!r} is not one of {OPERATIONS}")
        if isinstance(reserve, float | int) and not 0 <= reserve <= g.max_reserve:
            raise Refused(f"reserve {reserve} is outside 0-{g.max_reserve:g}")
        if operation is not None and "operation" not in g.drop:  # two commands, each droppable
            g.operation = str(operation)
        if isinstance(reserve, float | int) and "reserve" not in g.drop:
            g.reserve = float(reserve)

    def value(self, reading: Reading, name: str) -> Value | None:
        value: Value = getattr(reading, name)
        return value

    def save(self, reading: Reading) -> Saved:
        return Saved.model_validate({"operation": reading.operation, "reserve": reading.reserve})

    def looks_held(self, reading: Reading, route: HoldRoute) -> bool:
        held = dict(self.routes)[route]
        return reading.operation == "backup" and reading.reserve == held["reserve"]

    def unrestored(self, reading: Reading, saved: Saved) -> str | None:
        return None

    def refuses(self, reading: Reading, name: str, value: Value) -> str | None:
        return None  # like a bridge that cannot know the range: the device says so

    def stand_in(self, reading: Reading, name: str) -> Value | None:
        return self.gateway.stand_in_reserve if name == "reserve" else None

    def _reach(self) -> Gateway:
        if not self.gateway.reachable:
            raise Unreachable("gateway unreachable")
        return self.gateway
