"""The controller's persisted memory: a JSON file written atomically, so a restart in the
middle of an EV session neither forgets a hold nor restores a battery twice."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from wattbus.models import ChargingStrategy, ControllerCommand, ControllerMode

from wattbus_controller.charging import ChargingMemory
from wattbus_controller.dispatch import DispatchMemory
from wattbus_controller.ev_guard import GuardMemory
from wattbus_controller.invites import Invite
from wattbus_controller.plugs import PlugMemory

log = logging.getLogger(__name__)

FILE_NAME = "controller.json"  # in WATTBUS_CONTROLLER_STATE_DIR


class Memory(BaseModel):
    model_config = ConfigDict(frozen=True)

    guard: GuardMemory = GuardMemory()
    dispatch: DispatchMemory = DispatchMemory()
    charging: ChargingMemory = ChargingMemory()
    plugs: dict[str, PlugMemory] = Field(default_factory=dict)
    invites: dict[str, Invite] = Field(default_factory=dict)  # by UID: a restart resends none
    asserted: frozenset[str] = frozenset()  # batteries the controller holds (and must release)
    releasing: frozenset[str] = frozenset()  # released, but not yet reported free: send again
    mode: ControllerMode | None = None  # run-time changes outlive a restart
    threshold: float | None = None
    confirm: float | None = None
    release: float | None = None
    strategies: dict[str, ChargingStrategy] | None = None  # per tracked charger


OVERRIDES = ("mode", "threshold", "confirm", "release", "strategies")  # the values `set` saves


def load(path: Path) -> Memory:
    try:
        data = json.loads(path.read_bytes())
        return Memory.model_validate(_valid_overrides(path, data))
    except FileNotFoundError:
        return Memory()
    except (OSError, ValueError) as err:  # ValidationError is a ValueError
        log.error("cannot read %s (%s); starting with empty memory", path, err)
        return Memory()


def _valid_overrides(path: Path, data: Any) -> Any:
    """A value saved by an older release that a `set` would now refuse (a threshold of 1 W
    sent as `true`) is dropped, so the configured setting applies again; the rest of the
    memory (a session, the holds to release) is kept."""
    if not isinstance(data, dict):
        return data
    for field in OVERRIDES:
        if data.get(field) is None:
            continue
        try:
            ControllerCommand.model_validate({field: data[field]})
        except ValidationError as err:
            log.warning("%s: dropping the saved %s %r: %s", path, field, data[field],
                        err.errors()[0]["msg"])  # fmt: skip
            data = {k: v for k, v in data.items() if k != field}
    return data


def save(path: Path, memory: Memory) -> None:
    """Into an existing folder (the controller makes it once)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(memory.model_dump_json())
    os.replace(tmp, path)
