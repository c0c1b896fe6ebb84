"""SolarEdge's SunSpec and StorEdge register maps, and their decoding into wattbus's units and
signs. Pure: a block of registers in, values out, so every scale factor, sentinel, word order
and sign is tested with plain numbers.

Addresses are 0-based, as pymodbus sends them. Each block is read in one request, so a value
and its scale factor always come from the same instant (read apart, a scale factor that changes
between the two reads would scale one reading by another's factor: a factor of ten out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pymodbus.client.mixin import ModbusClientMixin
from wattbus.models import BatteryState, InverterState, MeterState

DataType = ModbusClientMixin.DATATYPE
convert = ModbusClientMixin.convert_from_registers
WordOrder = Literal["big", "little"]

# "Not implemented" in SunSpec: read as missing, never as a zero
NOT_INT16 = 0x8000
NOT_UINT16 = 0xFFFF
NOT_ACC32 = 0
NOT_FLOAT32 = 0x7FC00000

# The inverter block (model 101-103), big-endian words: DID at 40069 to status at 40108.
INVERTER_START, INVERTER_COUNT = 40069, 40
INVERTER_MODELS = {101: "1-phase", 102: "split-phase", 103: "3-phase"}
STATUS = {
    1: "off",
    2: "sleeping",
    3: "starting",
    4: "producing",
    5: "throttled",
    6: "shutting down",
    7: "fault",
    8: "standby",
}

# Meter 1's block (model 201-204): DID at 40188 to the energy scale factor at 40242. Each
# further meter's block follows the one before it, 174 registers on (0xAE).
METER_START, METER_STEP, METER_COUNT = 40188, 0xAE, 55
METER_MODELS = (201, 202, 203, 204)

# A StorEdge battery's instantaneous block, low word first: voltage at 0xE170 to status at
# 0xE186. Battery 2's block is 0x100 on.
BATTERY_START, BATTERY_STEP, BATTERY_COUNT = 0xE170, 0x100, 24
BATTERY_CHARGING, BATTERY_DISCHARGING = 3, 4


class RegisterError(Exception):
    """A block that cannot be what it claims: the wrong model, or a value the bridge needs
    that the device reports as not implemented."""


def _number(
    words: Sequence[int], data_type: ModbusClientMixin.DATATYPE, word_order: WordOrder = "big"
) -> float:
    """pymodbus's own conversion; a numeric type always converts to a number."""
    value = convert(list(words), data_type, word_order=word_order)
    assert isinstance(value, int | float)
    return value


def _int16(word: int) -> int | None:
    return None if word == NOT_INT16 else int(_number([word], DataType.INT16))


def _uint16(word: int) -> int | None:
    return None if word == NOT_UINT16 else word


def _scaled(words: Sequence[int], at: int, sf_at: int) -> float | None:
    """An int16 value times 10^(its int16 scale factor): missing when either is not
    implemented."""
    value, sf = _int16(words[at]), _int16(words[sf_at])
    if value is None or sf is None:
        return None
    return value * 10.0**sf


def _acc32(words: Sequence[int], at: int, sf_at: int) -> float | None:
    """An accumulator (uint32, high word first) times its scale factor; 0 means not
    implemented, as an energy total never reads zero on a device that has one."""
    raw = int(_number(words[at : at + 2], DataType.UINT32))
    sf = _int16(words[sf_at])
    if raw == NOT_ACC32 or sf is None:
        return None
    return raw * 10.0**sf


def _float32(words: Sequence[int], at: int) -> float | None:
    """A float32 with its low word first, as StorEdge sends them; NaN is not implemented."""
    pair = list(words[at : at + 2])
    if (pair[1] << 16 | pair[0]) == NOT_FLOAT32:
        return None
    value = _number(pair, DataType.FLOAT32, "little")
    return None if math.isnan(value) or math.isinf(value) else value


@dataclass(frozen=True)
class Inverter:
    model: int
    ac_power: float | None  # W, delivered on the AC side
    dc_power: float | None  # W, into the inverter on the DC side
    energy: float | None  # Wh, produced in all
    status: int | None

    @property
    def status_name(self) -> str | None:
        return None if self.status is None else STATUS.get(self.status, f"status {self.status}")


def decode_inverter(words: Sequence[int]) -> Inverter:
    """The block read from INVERTER_START."""
    _check(words, INVERTER_COUNT)
    model = words[0]
    if model not in INVERTER_MODELS:
        raise RegisterError(f"no SunSpec inverter at {INVERTER_START} (model {model})")
    at = -INVERTER_START
    return Inverter(
        model=model,
        ac_power=_scaled(words, at + 40083, at + 40084),
        dc_power=_scaled(words, at + 40100, at + 40101),
        energy=_acc32(words, at + 40093, at + 40095),
        status=_uint16(words[at + 40107]),
    )


def inverter_state(inverter: Inverter, now: datetime) -> InverterState:
    """The inverter as a wattbus device: its AC power is > 0 producing, as SunSpec's is. A
    sleeping inverter sends a real 0 W; one that sends no AC power at all gives no state."""
    if inverter.ac_power is None:
        raise RegisterError("the inverter reports no AC power")
    return InverterState(
        ts=now,
        power=inverter.ac_power,
        dc_power=inverter.dc_power,
        energy=inverter.energy,
        status_code=inverter.status,
        status=inverter.status_name,
    )


def decode_meter(words: Sequence[int], now: datetime) -> MeterState:
    """The block read from `meter_start(n)`, in wattbus's signs: SolarEdge's meter counts
    export as > 0, wattbus's grid counts import as > 0, so every power is negated here."""
    _check(words, METER_COUNT)
    if words[0] not in METER_MODELS:
        raise RegisterError(f"no SunSpec meter in this block (model {words[0]})")
    at = -METER_START
    total = _scaled(words, at + 40206, at + 40210)
    if total is None:
        raise RegisterError("the meter reports no total power")
    powers = [_scaled(words, at + 40207 + i, at + 40210) for i in range(3)]
    currents = [_scaled(words, at + 40191 + i, at + 40194) for i in range(3)]
    voltages = [_scaled(words, at + 40196 + i, at + 40203) for i in range(3)]
    grid = [None if p is None else _grid(p) for p in powers]
    return MeterState(
        ts=now,
        power=_grid(total),
        power_l1=grid[0],
        power_l2=grid[1],
        power_l3=grid[2],
        current_l1=_signed_like(currents[0], grid[0]),
        current_l2=_signed_like(currents[1], grid[1]),
        current_l3=_signed_like(currents[2], grid[2]),
        voltage_l1=voltages[0],
        voltage_l2=voltages[1],
        voltage_l3=voltages[2],
        energy_export=_acc32(words, at + 40226, at + 40242),
        energy_import=_acc32(words, at + 40234, at + 40242),
    )


def _grid(solaredge_power: float) -> float:
    return -solaredge_power + 0.0  # + 0.0: no -0.0 on the bus


def _signed_like(current: float | None, power: float | None) -> float | None:
    """The phase's current with its power's sign: whatever sign the meter gives its currents,
    wattbus's currents are signed like that phase's power."""
    if current is None:
        return None
    return math.copysign(abs(current), power) if power else abs(current)


@dataclass(frozen=True)
class Battery:
    power: float | None  # W, > 0 charging (StorEdge's sign is wattbus's)
    soc: float | None  # %
    status: int | None


def decode_battery(words: Sequence[int]) -> Battery:
    """The block read from `battery_start(n)`."""
    _check(words, BATTERY_COUNT)
    status = int(_number(words[22:24], DataType.UINT32, "little"))
    return Battery(
        power=_float32(words, 0xE174 - BATTERY_START),
        soc=_float32(words, 0xE184 - BATTERY_START),
        status=None if status == 0xFFFFFFFF else status,
    )


def battery_state(battery: Battery, inverter: Inverter, now: datetime) -> BatteryState:
    """The StorEdge battery with what its inverter adds: the AC power it delivers to the home,
    and the PV power, which is the inverter's DC intake plus what the battery takes from the
    DC side (DC intake = PV - battery charging)."""
    if battery.soc is None or battery.power is None:
        raise RegisterError("the battery reports no state of charge or power")
    pv = None
    if inverter.dc_power is not None:
        pv = max(inverter.dc_power + battery.power, 0.0)
    return BatteryState(
        ts=now,
        soc=battery.soc,
        power=battery.power,
        pv_power=pv,
        output_home_power=inverter.ac_power,
    )


def meter_start(n: int) -> int:
    return METER_START + (n - 1) * METER_STEP


def battery_start(n: int) -> int:
    return BATTERY_START + (n - 1) * BATTERY_STEP


def _check(words: Sequence[int], count: int) -> None:
    if len(words) != count:
        raise RegisterError(f"expected {count} registers, got {len(words)}")
