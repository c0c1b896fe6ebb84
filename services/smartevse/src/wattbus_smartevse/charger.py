"""The charger's own topics (`<prefix>/Mode`, `ChargeCurrent`, ...) as a wattbus `ChargerState`.

The firmware publishes one value per topic, in its own units: currents in deci-amps except
`MaxSumMains` (amps), power in W, energy in Wh, words for modes and states. Each topic is read
by one entry of `READERS`; a payload a reader cannot read is refused (the caller keeps the
last good value and says so once), a topic not in the table is not mirrored.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime

from wattbus.models import ChargerMode, ChargerState

from wattbus_smartevse.mains import DECI

Value = str | int | float | ChargerMode | None

# `Mode` says Off and Pause for the access, else the charge mode; N/A: not known
MODES = {
    "Off": ChargerMode.OFF,
    "Pause": ChargerMode.PAUSE,
    "Normal": ChargerMode.NORMAL,
    "Smart": ChargerMode.SMART,
    "Solar": ChargerMode.SOLAR,
    "N/A": None,
}
ACCESS = {"Allow": "allow", "Deny": "deny", "Pause": "pause"}
PLUG = {"Connected": True, "Disconnected": False}
CHARGING_IDS = frozenset({"C", "D"})  # StateID: the car draws power (D: with ventilation)
CHARGING = "Charging"  # State, for a firmware that publishes no StateID
NO_ERROR = "None"


class Unreadable(ValueError):
    """A payload that is not what the topic carries."""


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise Unreadable(f"{text[:32]!r} is not a whole number") from None


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Unreadable(f"{text[:32]!r} is not a number") from None
    if not math.isfinite(value):
        raise Unreadable(f"{text[:32]!r} is not a finite number")
    return value


def _word(words: Mapping[str, object]) -> Callable[[str], Value]:
    def read(text: str) -> Value:
        if text not in words:
            raise Unreadable(f"{text[:32]!r} is not one of {', '.join(words)}")
        return words[text]  # type: ignore[return-value]

    return read


def _phases(text: str) -> int:
    n = _whole(text)
    if not 1 <= n <= 3:
        raise Unreadable(f"{n} phases")
    return n


def _text(text: str) -> str:
    if not text.strip():
        raise Unreadable("empty")
    return text


def _error(text: str) -> str | None:
    return None if text == NO_ERROR else _text(text)


READERS: dict[str, Callable[[str], Value]] = {
    "Mode": _word(MODES),
    "Access": _word(ACCESS),
    "ChargeCurrent": _whole,  # dA
    "ChargeCurrentOverride": _whole,  # dA, 0: none
    "MaxCurrent": _whole,  # dA
    "MaxSumMains": _whole,  # A, 0: off
    "NrOfPhases": _phases,
    "State": _text,
    "StateID": _text,
    "Error": _error,
    "EVPlugState": _word(PLUG),
    "EVChargePower": _number,  # W
    "EVEnergyCharged": _number,  # Wh
    "EVTotalEnergyCharged": _number,  # Wh
}


def read(topic: str, payload: bytes) -> Value:
    """The value of the charger's topic `topic` (the part after its prefix). Raises KeyError
    for a topic not mirrored, Unreadable for a payload that topic cannot carry."""
    reader = READERS[topic]
    try:
        text = payload.decode()
    except UnicodeDecodeError:
        raise Unreadable("not UTF-8 text") from None
    return reader(text)


def _amps(deci: Value) -> float | None:
    return deci / DECI if isinstance(deci, int) else None


def charger_state(values: Mapping[str, Value], ts: datetime) -> ChargerState | None:
    """The state the topics mirrored so far say, or None before the charger has said whether
    it charges (its `StateID` or `State`)."""
    state_id, state = values.get("StateID"), values.get("State")
    if state_id is None and state is None:
        return None
    charging = state_id in CHARGING_IDS if state_id is not None else state == CHARGING
    override = values.get("ChargeCurrentOverride")
    mode = values.get("Mode")
    access = values.get("Access")
    return ChargerState(
        ts=ts,
        charging=charging,
        plugged=_bool(values.get("EVPlugState")),
        power=_float(values.get("EVChargePower")),
        current=_amps(values.get("ChargeCurrent")),
        current_override=_amps(override) if override else None,
        max_current=_amps(values.get("MaxCurrent")),
        phases=_int(values.get("NrOfPhases")),
        session_energy=_float(values.get("EVEnergyCharged")),
        total_energy=_float(values.get("EVTotalEnergyCharged")),
        mode=mode if isinstance(mode, ChargerMode) else None,
        access=access if access in ("allow", "deny", "pause") else None,
        error=_str(values.get("Error")),
    )


def _bool(value: Value) -> bool | None:
    return value if isinstance(value, bool) else None


def _float(value: Value) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Value) -> str | None:
    return value if isinstance(value, str) else None
