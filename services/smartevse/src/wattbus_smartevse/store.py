"""The passthrough set at run time, kept in `<state dir>/<id>.json` so that it outlives a
restart, as the controller keeps its own: a saved value wins over its `WATTBUS_SMARTEVSE_*`
variable until `reset` drops it, and the bridge says so at start-up."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from wattbus_smartevse.commands import PassthroughSetting, SmartEVSECommand
from wattbus_smartevse.passthrough import Passthrough
from wattbus_smartevse.settings import SmartEVSESettings

log = logging.getLogger(__name__)


class Saved(BaseModel):
    model_config = ConfigDict(frozen=True)

    passthrough: Passthrough | None = None
    reserve: float | None = None


def path_of(settings: SmartEVSESettings) -> Path:
    return settings.state_dir / f"{settings.id}.json"


def load(path: Path) -> Saved:
    """What was saved; nothing if there is no file, or one a `set` would now refuse."""
    try:
        saved = Saved.model_validate_json(path.read_bytes())
        SmartEVSECommand.model_validate(saved.model_dump(exclude_none=True))
    except FileNotFoundError:
        return Saved()
    except (OSError, ValidationError) as err:
        log.error("cannot use %s (%s); the configured passthrough applies", path, err)
        return Saved()
    return saved


def save(path: Path, saved: Saved) -> None:
    """Written whole and renamed into place, so a crash leaves the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(saved.model_dump_json(exclude_none=True))
    os.replace(tmp, path)


def in_effect(settings: SmartEVSESettings, saved: Saved) -> PassthroughSetting:
    return PassthroughSetting(
        saved.passthrough or settings.passthrough,
        settings.reserve if saved.reserve is None else saved.reserve,
    )


def overridden(settings: SmartEVSESettings, saved: Saved) -> list[str]:
    """One line per saved value, naming the variable it overrides."""
    lines = []
    if saved.passthrough is not None:
        lines.append(f"passthrough {saved.passthrough} saved at run time overrides "
                     f"WATTBUS_SMARTEVSE_PASSTHROUGH={settings.passthrough}")  # fmt: skip
    if saved.reserve is not None:
        configured = "" if settings.reserve is None else f"{settings.reserve:g}"
        lines.append(f"reserve {saved.reserve:g} A saved at run time overrides "
                     f"WATTBUS_SMARTEVSE_RESERVE={configured}")  # fmt: skip
    return lines


def check_notes(settings: SmartEVSESettings) -> list[str]:
    """For `wattbus config check smartevse`: reads the file, starts nothing."""
    path = path_of(settings)
    return overridden(settings, load(path)) or [f"no passthrough saved at run time in {path}"]
