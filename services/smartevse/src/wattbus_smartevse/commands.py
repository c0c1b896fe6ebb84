"""What `wattbus/<id>/set` may ask of a SmartEVSE, checked before anything is sent.

The firmware ignores a value it does not accept without a word, so each write says which
published topic must then show what: the shell answers `applied` only once the charger's own
topics show every change. A check here can only refuse what is known to fail: the firmware
never publishes its MinCurrent, so an override is checked against 6 A (the least any
SmartEVSE charges with) and its read-back tells the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from wattbus.commands import CommandError
from wattbus.models import ChargerMode, Command, JsonNumber, Reset

from wattbus_smartevse.charger import Value
from wattbus_smartevse.mains import DECI
from wattbus_smartevse.passthrough import Passthrough
from wattbus_smartevse.settings import RESERVE_MAX

MIN_CURRENT = 6.0  # A: IEC 61851's floor, and the least MinCurrent a SmartEVSE takes
OVERRIDE_MAX = 80.0  # A: the most MaxCurrent a SmartEVSE takes
MAX_SUM_MAINS = (10, 600)  # A, and 0 (off): what Set/CurrentMaxSumMains takes
OVERRIDE_MODES = (ChargerMode.NORMAL, ChargerMode.SMART)  # the firmware's rule
MODE_WORDS = {m: m.value.capitalize() for m in ChargerMode}  # Set/Mode's words


def _max_sum_mains(value: float) -> float:
    low, high = MAX_SUM_MAINS
    if value != int(value) or not (value == 0 or low <= value <= high):
        message = f"Input should be 0 (off) or a whole number of amps from {low} to {high}"
        raise PydanticCustomError("max_sum_mains", message)
    return value


class SmartEVSECommand(Command):
    mode: ChargerMode | None = None
    current_override: (
        Annotated[float, JsonNumber, Field(ge=0, le=OVERRIDE_MAX, allow_inf_nan=False)] | None
    ) = Field(None, description="A; 0 clears it")
    max_sum_mains: (
        Annotated[float, JsonNumber, Field(allow_inf_nan=False), AfterValidator(_max_sum_mains)]
        | None
    ) = Field(None, description="A, the mains limit of Smart mode; 0: off")
    passthrough: Passthrough | None = None
    reserve: (
        Annotated[float, JsonNumber, Field(gt=0, le=RESERVE_MAX, allow_inf_nan=False)] | None
    ) = Field(None, description="A, what the battery gets first with passthrough reserve")
    reset: Reset | None = Field(None, description="true drops the passthrough saved")


@dataclass(frozen=True)
class Write:
    """One `Set/` message, and what the charger must then publish to show it took it."""

    field: str  # the command's
    topic: str  # under `<prefix>/Set/`
    payload: str
    shows: str  # the published topic that reads it back
    expect: Value


def writes(command: SmartEVSECommand, charger: dict[str, Value], online: bool) -> list[Write]:
    """The charger's part of `command`, in the order to send it; CommandError if it cannot
    work with the charger as its topics show it. The mode goes first: Solar clears an
    override, and an override is checked against the mode it will meet."""
    out: list[Write] = []
    if command.mode is not None:
        out.append(Write("mode", "Mode", MODE_WORDS[command.mode], "Mode", command.mode))
    if command.current_override is not None:
        out.append(_override(command, charger))
    if command.max_sum_mains is not None:
        amps = int(command.max_sum_mains)
        out.append(Write("max_sum_mains", "CurrentMaxSumMains", str(amps), "MaxSumMains", amps))
    if out and not online:
        raise CommandError("the charger is offline")
    return out


def _override(command: SmartEVSECommand, charger: dict[str, Value]) -> Write:
    assert command.current_override is not None
    deci = round(command.current_override * DECI)
    write = Write("current_override", "CurrentOverride", str(deci), "ChargeCurrentOverride", deci)
    if deci == 0:
        return write  # clears it in any mode
    mode = command.mode or charger.get("Mode")
    if not isinstance(mode, ChargerMode):
        raise CommandError("current_override: the charger's mode is not known yet")
    if mode not in OVERRIDE_MODES:
        raise CommandError(
            f"current_override: the charger takes one only in normal or smart mode, not {mode}"
        )
    top = charger.get("MaxCurrent")
    if not isinstance(top, int):
        raise CommandError("current_override: the charger's max current is not known yet")
    if deci > top:
        raise CommandError(f"current_override: above the charger's max current of {top / DECI:g} A")
    if deci < MIN_CURRENT * DECI:
        raise CommandError(f"current_override: below {MIN_CURRENT:g} A, the least it charges with")
    return write


@dataclass(frozen=True)
class PassthroughSetting:
    policy: Passthrough
    reserve: float | None  # A; kept with any policy, used by `reserve`


def passthrough_after(
    command: SmartEVSECommand, now: PassthroughSetting, battery: str | None
) -> PassthroughSetting:
    """The bridge's own passthrough setting once `command` is applied to `now`."""
    if command.passthrough is None and command.reserve is None:
        return now
    if battery is None:
        raise CommandError("there is no battery to pass through (WATTBUS_SMARTEVSE_BATTERY)")
    policy = command.passthrough or now.policy
    reserve = now.reserve if command.reserve is None else command.reserve
    if policy is Passthrough.RESERVE and reserve is None:
        raise CommandError("passthrough reserve needs a reserve, in A")
    return PassthroughSetting(policy, reserve)
