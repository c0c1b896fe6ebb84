"""A Zappi's status as myenergi's servers send it (`/cgi-jstatus-Z<serial>`), and what it means
in wattbus's units: the one place where the Zappi's codes, kWh and names are converted.

The field names and code tables are pymyenergi's (`pymyenergi.zappi`); the tables are taken from
there, so the words match what its users know. `div` (the power the Zappi sends to the car, in W)
is not read by pymyenergi; public notes of the API call it the charge rate, and it matches the
"Internal Load" CT the Zappi measures the car with. Where it is missing, that CT stands in.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymyenergi.zappi import CHARGE_MODES, PLUG_STATES
from wattbus.models import ChargerMode, ChargerState

CHARGING = "C2"  # the one plug state in which the car draws power
PLUGGED = frozenset({"B1", "B2", "C1", "C2"})  # connected, drawing or not
UNPLUGGED = "A"
FAULT = "F"
KWH = 1000.0  # Wh
INTERNAL_LOAD = "Internal Load"  # the name of the CT inside the Zappi, on the car's cable
CTS = range(1, 7)  # ectt1..6 / ectp1..6
PHASE_SETTINGS = {"SINGLE_PHASE": 1, "THREE_PHASE": 3}  # "AUTO" says nothing about now


class ZappiMode(StrEnum):
    """The Zappi's own modes, by the number `zmo` and `/cgi-zappi-mode-` carry."""

    FAST = "Fast"
    ECO = "Eco"
    ECO_PLUS = "Eco+"
    STOPPED = "Stopped"

    @property
    def number(self) -> int:
        number: int = CHARGE_MODES.index(self.value)
        return number

    @property
    def bus_mode(self) -> ChargerMode:
        return BUS_MODES[self]

    @classmethod
    def of(cls, number: int | None) -> ZappiMode | None:
        """The mode `zmo` names; None for 0 (starting up) or a number this version does not
        know."""
        if number is None or not 0 <= number < len(CHARGE_MODES):
            return None
        name = CHARGE_MODES[number]
        return cls(name) if name in cls._value2member_map_ else None


# Fast charges at full power whatever the house does; Eco keeps the least current and adds
# surplus; Eco+ waits for surplus.
BUS_MODES = {
    ZappiMode.FAST: ChargerMode.NORMAL,
    ZappiMode.ECO: ChargerMode.MIN_SOLAR,
    ZappiMode.ECO_PLUS: ChargerMode.SOLAR,
    ZappiMode.STOPPED: ChargerMode.OFF,
}
BOOST_MODES = (ZappiMode.ECO, ZappiMode.ECO_PLUS)  # the only modes a manual boost works in


class ZappiStatus(BaseModel):
    """One Zappi from a status answer, in the Zappi's units; unknown fields are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    serial: int = Field(alias="sno")
    firmware: str | None = Field(None, alias="fwv")
    plug: str | None = Field(None, alias="pst", description="A, B1, B2, C1, C2, F")
    mode_number: int | None = Field(None, alias="zmo")
    status_number: int | None = Field(None, alias="sta")
    charge_added: float | None = Field(None, alias="che", description="kWh this session")
    diverted: float | None = Field(None, alias="div", description="W to the car")
    internal_load: float | None = Field(None, description="W on the Internal Load CT(s)")
    phase_setting: str | None = Field(None, alias="phaseSetting")
    boost_kwh: int | None = Field(None, alias="tbk", description="kWh of the manual boost")
    boost_on: int | None = Field(None, alias="bsm", description="1 while a manual boost runs")

    @model_validator(mode="before")
    @classmethod
    def _internal_load(cls, data: Any) -> Any:
        """The Zappi lists its CTs as name (`ectt<n>`) and power (`ectp<n>`) pairs."""
        if not isinstance(data, dict):
            return data
        powers = [data.get(f"ectp{n}") for n in CTS if data.get(f"ectt{n}") == INTERNAL_LOAD]
        numbers = [p for p in powers if isinstance(p, int | float) and not isinstance(p, bool)]
        return {**data, "internal_load": sum(numbers)} if numbers else data

    @property
    def mode(self) -> ZappiMode | None:
        return ZappiMode.of(self.mode_number)

    @property
    def charge_power(self) -> float | None:
        return self.diverted if self.diverted is not None else self.internal_load

    @property
    def boosting(self) -> bool:
        return self.boost_on == 1


def plug_text(code: str | None) -> str | None:
    """pymyenergi's words for a plug state; None for a code it does not know."""
    if code is None:
        return None
    return PLUG_STATES.get(code) or None


def charger_state(status: ZappiStatus, ts: datetime) -> ChargerState:
    """The Zappi as a wattbus charger: charging exactly in C2, energy in Wh."""
    code = status.plug
    mode = status.mode
    phases = PHASE_SETTINGS.get(status.phase_setting or "")
    return ChargerState(
        ts=ts,
        charging=code == CHARGING,
        plugged=True if code in PLUGGED else False if code == UNPLUGGED else None,
        power=status.charge_power,
        session_energy=status.charge_added * KWH if status.charge_added is not None else None,
        phases=phases,
        mode=mode.bus_mode if mode else None,
        mode_name=mode.value if mode else None,
        status_code=code,
        status=plug_text(code),
        error=f"{plug_text(FAULT)} (plug state {FAULT})" if code == FAULT else None,
    )
