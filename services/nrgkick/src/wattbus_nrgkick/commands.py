"""What `wattbus/<id>/set` may ask of an NRGKICK, checked against what the charger last said
before anything is sent: the current within its range, pause or resume (`mode`), and the
phase count where the charger can switch. Each field is the state field that shows it."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from wattbus.commands import CommandError
from wattbus.models import ChargerMode, ChargerState, Command, JsonNumber

MODES = (ChargerMode.NORMAL, ChargerMode.PAUSE)
CURRENT_MAX = 32.0  # A: the most any NRGKICK is rated for; its own rating is checked on top


def _phase_count(value: float) -> float:
    if value not in (1, 2, 3):
        raise PydanticCustomError("phases", "Input should be 1, 2 or 3")
    return value


def _normal_or_pause(mode: ChargerMode) -> ChargerMode:
    if mode not in MODES:
        raise PydanticCustomError("mode", "Input should be 'normal' or 'pause'")
    return mode


class NrgkickCommand(Command):
    current: (
        Annotated[float, JsonNumber, Field(gt=0, le=CURRENT_MAX, allow_inf_nan=False)] | None
    ) = Field(None, description="A, the current the charger offers")
    # normal: charging allowed; pause: the session stays open, nothing flows
    mode: Annotated[ChargerMode, AfterValidator(_normal_or_pause)] | None = None
    phases: Annotated[float, JsonNumber, AfterValidator(_phase_count)] | None = Field(
        None, description="1 to 3, where phase switching is enabled in the app"
    )


def check(command: NrgkickCommand, state: ChargerState | None, can_switch: bool) -> None:
    """CommandError if `command` cannot work on the charger as it was last read."""
    if command.current is not None:
        if state is None or state.min_current is None or state.max_current is None:
            raise CommandError("current: the charger's range is not known yet")
        low, high = state.min_current, state.max_current
        if not low <= command.current <= high:
            raise CommandError(f"current: the charger takes {low:g} to {high:g} A")
    if command.phases is not None and not can_switch:
        raise CommandError("phases: this charger cannot switch phases")


def shown(command: NrgkickCommand, state: ChargerState, phase_count: int | None) -> list[str]:
    """The fields of `command` the state read back does not show."""
    missing = []
    if command.current is not None and state.current != command.current:
        missing.append(f"current {command.current:g} A (it shows {state.current})")
    if command.mode is not None and state.mode is not command.mode:
        missing.append(f"mode {command.mode} (it shows {state.mode})")
    if command.phases is not None and phase_count != command.phases:
        missing.append(f"phases {command.phases:g} (it shows {phase_count})")
    return missing
