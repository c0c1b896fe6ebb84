"""Values set at run time (on `controller/set`, saved in controller.json) against the configured
settings. A saved value wins over its `WATTBUS_CONTROLLER_*` variable across restarts, so an
owner who edits the variable must be able to see that it is overridden, and drop the override."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict
from wattbus.models import ChargingStrategy, ControllerCommand, ControllerMode

from wattbus_controller import memory as store
from wattbus_controller.memory import Memory
from wattbus_controller.settings import ControllerSettings

RUN_TIME = ("mode", "threshold", "confirm", "release", "strategies")  # the fields `set` saves
UNITS = {"mode": "", "threshold": " W", "confirm": " s", "release": " s"}
Value = float | ControllerMode | ChargingStrategy


class SetError(ValueError):
    """A `set` the controller cannot apply as it is configured; the reason is the answer."""


class Override(BaseModel):
    model_config = ConfigDict(frozen=True)

    configured: Value
    saved: Value


def overrides(settings: ControllerSettings, memory: Memory) -> dict[str, Override]:
    """Every saved value, also one equal to its setting: it still wins once the setting
    changes, and `reset` is what drops it."""
    found = {}
    for name in RUN_TIME[:-1]:
        saved = getattr(memory, name)
        if saved is not None:
            found[name] = Override(configured=getattr(settings, name), saved=saved)
    for charger, strategy in (memory.strategies or {}).items():
        found[f"strategy {charger}"] = Override(configured=settings.solar_strategy, saved=strategy)
    return found


def _plain(value: Value) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def describe(found: dict[str, Override]) -> list[str]:
    """One line each, naming the variable that is overridden."""
    prefix = str(ControllerSettings.model_config.get("env_prefix", ""))
    lines = []
    for name, o in found.items():
        saved = f"{name} {_plain(o.saved)}{UNITS.get(name, '')}"
        setting = "SOLAR_STRATEGY" if name.startswith("strategy ") else name.upper()
        variable = f"{prefix}{setting}={_plain(o.configured)}"
        lines.append(f"{saved} saved at run time overrides {variable}")
    return lines


def check_notes(settings: ControllerSettings) -> list[str]:
    """For `wattbus config check controller`: reads the memory file, starts nothing."""
    path = settings.state_dir / store.FILE_NAME
    lines = describe(overrides(settings, store.load(path)))
    return lines or [f"no values saved at run time in {path}"]


def requested_strategies(
    command: ControllerCommand, tracked: Mapping[str, object]
) -> dict[str, ChargingStrategy] | None:
    """The strategies a `set` asks for, by charger (None: it asks for none); SetError for a
    charger that is not tracked, or any strategy with none tracked."""
    if command.strategy is None and command.strategies is None:
        return None
    if not tracked:
        raise SetError("no charger is tracked (WATTBUS_CONTROLLER_SOLAR_CHARGERS is empty)")
    wanted = dict.fromkeys(tracked, command.strategy) if command.strategy else {}
    for cid, strategy in (command.strategies or {}).items():
        if cid not in tracked:
            raise SetError(f"strategies: {cid} is not a tracked charger ({', '.join(tracked)})")
        wanted[cid] = strategy
    return {cid: s for cid, s in wanted.items() if s is not None}
