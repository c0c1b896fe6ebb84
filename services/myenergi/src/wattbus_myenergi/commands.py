"""What `wattbus/<id>/set` may ask of a Zappi, checked before anything is sent, and how a
status shows that the Zappi took it.

myenergi's servers answer a mode or boost call as soon as they have queued it for the hub; the
Zappi itself changes some seconds later, or not at all. So every change names what a status
must then show, and the bridge answers `applied` only once one does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError
from wattbus.commands import CommandError
from wattbus.models import Command, JsonNumber, OnlyTrue

from wattbus_myenergi.models import BOOST_MODES, BUS_MODES, ZappiMode, ZappiStatus

# kWh: a manual boost is whole kWh (the call carries an integer); the myenergi app offers up
# to 99. The API documents no range.
BOOST_RANGE = (1, 99)

# The words `mode` takes: the Zappi's own (as `mode_name` shows them, or lower case) and the
# bus's ChargerMode names (as `mode` shows them). `mode_name` takes the Zappi's own only: it is
# what Home Assistant's select shows and sends.
NAMES: dict[str, ZappiMode] = {m.value: m for m in ZappiMode}
MODE_WORDS: dict[str, ZappiMode] = {
    **NAMES,
    **{m.value.lower(): m for m in ZappiMode},
    **{bus.value: m for m, bus in BUS_MODES.items()},
}


def _one_of(words: dict[str, ZappiMode]) -> BeforeValidator:
    def check(value: object) -> object:
        if not isinstance(value, str) or value not in words:
            raise PydanticCustomError(
                "zappi_mode", "Input should be one of {words}", {"words": ", ".join(words)}
            )
        return words[value]

    return BeforeValidator(check)


def _whole_kwh(value: float) -> float:
    low, high = BOOST_RANGE
    if value != int(value) or not low <= value <= high:
        message = f"Input should be a whole number of kWh from {low} to {high}"
        raise PydanticCustomError("boost_kwh", message)
    return value


class ZappiCommand(Command):
    mode: Annotated[ZappiMode, _one_of(MODE_WORDS)] | None = None
    mode_name: Annotated[ZappiMode, _one_of(NAMES)] | None = None
    boost: (
        Annotated[float, JsonNumber, Field(allow_inf_nan=False), AfterValidator(_whole_kwh)] | None
    ) = Field(None, description="kWh to add now at full power; Eco and Eco+ only")
    stop_boost: OnlyTrue | None = None


ChangeField = Literal["mode", "boost", "stop_boost"]


@dataclass(frozen=True)
class Change:
    """One call to the Zappi, and what a status shows once it took it."""

    field: ChangeField  # the command's
    mode: ZappiMode | None = None
    kwh: int | None = None

    def shown(self, status: ZappiStatus) -> bool:
        if self.field == "mode":
            return status.mode is self.mode
        if self.field == "boost":
            return status.boosting and status.boost_kwh == self.kwh
        return not status.boosting

    def asked(self) -> str:
        if self.field == "mode":
            return f"mode {self.mode}"
        return f"boost {self.kwh} kWh" if self.field == "boost" else "stop_boost"


def changes(command: ZappiCommand, status: ZappiStatus) -> list[Change]:
    """The calls `command` needs, in the order to send them (the mode first: a boost is
    checked against the mode it will meet); CommandError if it cannot work on the Zappi as
    `status` shows it."""
    out: list[Change] = []
    if command.boost is not None and command.stop_boost:
        raise CommandError("boost and stop_boost: one or the other")
    if command.mode is not None and command.mode_name is not None:
        raise CommandError("mode and mode_name: one or the other")
    asked = command.mode or command.mode_name
    if asked is not None:
        out.append(Change("mode", mode=asked))
    if command.boost is not None:
        mode = asked or status.mode
        if mode not in BOOST_MODES:
            now = "will be" if asked else "is"
            raise CommandError(
                f"boost works in Eco or Eco+ only, and the Zappi {now} in {mode or 'no mode'}"
            )
        out.append(Change("boost", kwh=int(command.boost)))
    if command.stop_boost:
        out.append(Change("stop_boost"))
    return out


def showing(status: ZappiStatus) -> str:
    """What a status says about everything a command can change, for a refusal's reason."""
    boost = f"boost on, {status.boost_kwh} kWh" if status.boosting else "boost off"
    return f"mode {status.mode or 'unknown'}, {boost}"


def describe(items: Iterable[Change]) -> str:
    return ", ".join(c.asked() for c in items)
