"""The controller's persisted memory: a JSON file written atomically, so a restart in the
middle of an EV session neither forgets a hold nor restores a battery twice."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError
from wattbus.models import ControllerMode

from wattbus_controller.ev_guard import GuardMemory

log = logging.getLogger(__name__)

FILE_NAME = "controller.json"  # in WATTBUS_CONTROLLER_STATE_DIR


class Memory(BaseModel):
    model_config = ConfigDict(frozen=True)

    guard: GuardMemory = GuardMemory()
    asserted: frozenset[str] = frozenset()  # batteries the guard holds (and must release)
    releasing: frozenset[str] = frozenset()  # released, but not yet reported free: send again
    mode: ControllerMode | None = None  # run-time changes outlive a restart
    threshold: float | None = None
    confirm: float | None = None
    release: float | None = None


def load(path: Path) -> Memory:
    try:
        return Memory.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return Memory()
    except (OSError, ValidationError) as err:
        log.error("cannot read %s (%s); starting with empty memory", path, err)
        return Memory()


def save(path: Path, memory: Memory) -> None:
    """Into an existing folder (the controller makes it once)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(memory.model_dump_json())
    os.replace(tmp, path)
