"""What the NRGKICK's answers mean, as a `ChargerState`: pure functions of the parsed JSON and
`now`. Vendor units are converted here and nowhere else (the Connect's kW and kWh to W and
Wh). A field the answer lacks, or holds as something other than a number, is left out (None),
never read as zero; a whole answer that cannot be read raises NrgkickError."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wattbus.models import ChargerMode, ChargerState

from wattbus_nrgkick.exceptions import NrgkickError

MIN_CURRENT = 6.0  # A: the least `current_set` takes (and IEC 61851's floor)
# A per phase: below this a phase is not counted as charging (the meters read noise)
PHASE_DRAWING = 1.0
KILO = 1000.0

# `general.status` of /values: a number with `raw`, these words without
STATUS = {0: "UNKNOWN", 1: "STANDBY", 2: "CONNECTED", 3: "CHARGING", 6: "ERROR", 7: "WAKEUP"}
STATUS_CODE = {word: code for code, word in STATUS.items()}
CHARGING = 3
PLUGGED = {2: True, 3: True, 7: True, 1: False}  # UNKNOWN and ERROR say nothing of a car
NO_ERROR = (0, "NO_ERROR")
NO_CONTENT = "No content found for this request"  # the Connect, with no charger in reach


def number(value: object) -> float | None:
    """A JSON number as a float; anything else (a boolean too) is missing."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def section(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Gen2Info:
    """From `/info`: what does not change while the bridge runs."""

    serial: str | None
    firmware: str | None
    max_current: float | None  # A: the lower of the rated and the connector's current
    phase_count: int | None  # the connector's phases


def gen2_info(info: dict[str, Any]) -> Gen2Info:
    general, connector, versions = (section(info, k) for k in ("general", "connector", "versions"))
    ratings = (number(general.get("rated_current")), number(connector.get("max_current")))
    limits = [a for a in ratings if a is not None and a > 0]
    phases = number(connector.get("phase_count"))
    serial = general.get("serial_number") or connector.get("serial")
    firmware = versions.get("sw_sm")
    return Gen2Info(
        str(serial) if serial else None,
        str(firmware) if firmware else None,
        min(limits) if limits else None,
        int(phases) if phases in (1, 2, 3) else None,
    )


def status_code(value: object) -> int | None:
    if isinstance(value, str):
        return STATUS_CODE.get(value.upper())
    code = number(value)
    return int(code) if code is not None and code == int(code) else None


def phases_drawing(currents: list[float | None]) -> int | None:
    """The phases the car draws on (a car on 2 phases, a tripped fuse), None if none does."""
    drawing = sum(1 for a in currents if a is not None and a >= PHASE_DRAWING)
    return drawing or None


def gen2_state(
    info: Gen2Info, values: dict[str, Any], control: dict[str, Any], now: datetime
) -> ChargerState:
    """`phases` is what the car draws on while it charges, else the phase count set. A status
    number the documentation does not list is published as it came (`status_code`)."""
    energy, flow, general = (section(values, k) for k in ("energy", "powerflow", "general"))
    code = status_code(general.get("status"))
    if code is None:
        raise NrgkickError(f"/values: no status the bridge knows: {general.get('status')!r}")
    pause = number(control.get("charge_pause"))
    if pause not in (0, 1):
        raise NrgkickError(f"/control: charge_pause is {control.get('charge_pause')!r}")
    power = number(flow.get("total_active_power"))
    # a code newer than the documentation: only the power says whether the car draws
    charging = code == CHARGING if code in STATUS else bool(power and power > 0)
    currents = [number(section(flow, f"l{n}").get("current")) for n in (1, 2, 3)]
    set_phases = number(control.get("phase_count"))
    phases = phases_drawing(currents) if charging else None
    if phases is None and set_phases in (1, 2, 3):
        phases = int(set_phases)
    error = general.get("error_code")
    return ChargerState(
        ts=now,
        charging=charging,
        plugged=PLUGGED.get(code),
        power=power,
        current=number(control.get("current_set")),
        min_current=MIN_CURRENT,
        max_current=info.max_current,
        phases=phases,
        session_energy=number(energy.get("charged_energy")),
        total_energy=number(energy.get("total_charged_energy")),
        mode=ChargerMode.PAUSE if pause else ChargerMode.NORMAL,
        status_code=str(code),
        status=STATUS[code].capitalize() if code in STATUS else None,
        error=None if error in (None, *NO_ERROR) else f"error code {error}",
    )


def kilo(value: object) -> float | None:
    v = number(value)
    return None if v is None else round(v * KILO, 3)


def connect_state(
    measurements: dict[str, Any], settings: dict[str, Any], max_current: float, now: datetime
) -> ChargerState:
    """The Connect's kW and kWh as W and Wh; `Info.Connected` says a car is plugged in, and
    `Values.ChargingStatus.Charging` whether it may charge (false: paused)."""
    info, values = section(settings, "Info"), section(settings, "Values")
    allowed = section(values, "ChargingStatus").get("Charging")
    if not isinstance(allowed, bool):
        raise NrgkickError(f"settings: ChargingStatus.Charging is {allowed!r}")
    connected = info.get("Connected")
    absent = measurements.get("Message") == NO_CONTENT
    m = {} if absent else measurements
    power = kilo(m.get("ChargingPower"))
    raw = m.get("ChargingCurrentPhase")
    currents = [number(a) for a in raw] if isinstance(raw, list) else []
    codes = info.get("ErrorCodes")
    error = codes[0] if isinstance(codes, list) and codes else None
    top = number(section(values, "ChargingCurrent").get("Max"))
    return ChargerState(
        ts=now,
        charging=bool(power and power > 0),
        plugged=False if absent else connected if isinstance(connected, bool) else None,
        power=power,
        current=number(section(values, "ChargingCurrent").get("Value")),
        min_current=MIN_CURRENT,
        max_current=min(top, max_current) if top else max_current,
        phases=phases_drawing(currents),
        session_energy=kilo(m.get("ChargingEnergy")),
        total_energy=kilo(m.get("ChargingEnergyOverAll")),
        mode=ChargerMode.NORMAL if allowed else ChargerMode.PAUSE,
        error=None if error in (None, 0, "0", "") else f"error code {error}",
    )
