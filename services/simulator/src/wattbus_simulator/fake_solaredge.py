"""A fake SolarEdge inverter with its export/import meter and a StorEdge battery, serving the
real SunSpec and StorEdge register layout over Modbus TCP (pymodbus's own server) on loopback.

Its values are set in wattbus's units and signs; the fake writes them in SolarEdge's: the
meter's power export > 0, int16 values with a scale factor, energy totals as acc32, the
battery's float32s low word first. Every reading picks its scale factors afresh (from
`SCALE_FACTORS`, raised where a value would not fit an int16), as the inverter does, so a
client that reads a value and its scale factor in two requests decodes garbage. Like the real
inverter it serves one client at a time: a second connection is closed at once."""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from wattbus.closing import AsyncClosing

UNIT = 1
SCALE_FACTORS = (-2, -1, 0, 1)  # cycled through, one step per reading
ENERGY_SCALE_FACTORS = (0, 1, 2)

NOT_INT16 = 0x8000
NOT_ACC32 = (0, 0)
NAN32 = (0x0000, 0x7FC0)  # 0x7fc00000, low word first

# 0-based addresses, as on the wire
SUNS = 40000
INVERTER, INVERTER_COUNT = 40069, 40
METER, METER_COUNT = 40188, 55
BATTERY, BATTERY_COUNT = 0xE170, 24


@dataclass
class Readings:
    """What the fake's devices measure, in wattbus's units and signs."""

    grid_power: list[float] = field(default_factory=lambda: [400.0, 300.0, 300.0])  # > 0 import
    voltage: float = 230.0
    energy_import: float = 4_200_000.0  # Wh
    energy_export: float = 1_900_000.0
    ac_power: float = 2500.0  # W, the inverter's AC output
    dc_power: float = 2600.0
    inverter_energy: float = 9_000_000.0
    inverter_status: int = 4  # producing
    inverter_model: int = 103  # 3-phase
    meter_model: int = 203  # wye 3-phase
    battery_power: float = 500.0  # > 0 charging
    soc: float = 55.0
    battery_status: int = 3  # charging
    # names of the values sent as "not implemented" (a key of `SENTINELS`)
    missing: set[str] = field(default_factory=set)

    def advance(self, seconds: float) -> None:
        """`seconds` at the present AC power: the lifetime energy grows by what it delivered."""
        self.inverter_energy += max(self.ac_power, 0.0) * seconds / 3600.0

    def night(self) -> None:
        """The inverter asleep at night: sleeping, a real 0 W on the AC side, and its DC power
        and energy total sent as "not implemented". SolarEdge does not document what it sends
        at night; this is the worst the bridge must take: missing values, never read as 0."""
        self.ac_power, self.dc_power, self.inverter_status = 0.0, 0.0, 2
        self.missing |= {"dc_power", "inverter_energy"}


# value name -> (address, the words that say "not implemented")
SENTINELS: dict[str, tuple[int, tuple[int, ...]]] = {
    "grid_power": (40206, (NOT_INT16,)),
    "grid_power_sf": (40210, (NOT_INT16,)),
    "power_l2": (40208, (NOT_INT16,)),
    "energy_export": (40226, NOT_ACC32),
    "ac_power": (40083, (NOT_INT16,)),
    "dc_power": (40100, (NOT_INT16,)),
    "ac_power_sf": (40084, (NOT_INT16,)),
    "inverter_energy": (40093, NOT_ACC32),
    "inverter_energy_sf": (40095, (NOT_INT16,)),
    "inverter_status": (40107, (0xFFFF,)),
    "battery_power": (0xE174, NAN32),
    "soc": (0xE184, NAN32),
}


def _int16(value: int) -> int:
    return value & 0xFFFF


def _fit(values: list[float], sf: int) -> int:
    """The scale factor nearest `sf` at which every value fits an int16."""
    while any(abs(round(v / 10.0**sf)) > 0x7FFF for v in values):
        sf += 1
    return sf


def _scaled(values: list[float], sf: int) -> list[int]:
    return [_int16(round(v / 10.0**sf)) for v in values]


def _acc32(value: float, sf: int) -> list[int]:
    raw = round(value / 10.0**sf) & 0xFFFFFFFF
    return [raw >> 16, raw & 0xFFFF]


def _float32(value: float) -> list[int]:
    (raw,) = struct.unpack(">I", struct.pack(">f", value))
    return [raw & 0xFFFF, raw >> 16]  # low word first


class FakeSolarEdge(AsyncClosing):
    def __init__(self, readings: Readings | None = None) -> None:
        self.readings = readings or Readings()
        self.port = 0
        self.connections = 0  # accepted in all: one persistent client makes this 1
        self.refuse = False  # answer every read with "device busy"
        self.reads: list[tuple[int, int]] = []  # (address, count) of each request
        # called with (address, count) as a request arrives, before its answer is written: a
        # bench changes a value just as it is asked for, and stamps when that was
        self.on_read: Callable[[int, int], None] | None = None
        self.power_scale_factors: set[int] = set()  # the meter's, as sent
        self.energy_scale_factors: set[int] = set()  # the inverter's, as sent
        self._sfs = itertools.cycle(SCALE_FACTORS)
        self._energy_sfs = itertools.cycle(ENERGY_SCALE_FACTORS)
        self._server: ModbusTcpServer | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        blocks = [
            SimData(SUNS, values=[0x5375, 0x6E53], datatype=DataType.REGISTERS),
            SimData(INVERTER, count=INVERTER_COUNT, values=0, datatype=DataType.REGISTERS),
            SimData(METER, count=METER_COUNT, values=0, datatype=DataType.REGISTERS),
            SimData(BATTERY, count=BATTERY_COUNT, values=0, datatype=DataType.REGISTERS),
        ]
        device = SimDevice(UNIT, simdata=blocks, action=self._on_request)
        self._server = ModbusTcpServer(device, address=(host, port), trace_connect=self._on_connect)
        await self._server.serve_forever(background=True)
        self.port = self._server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def close(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None

    def drop_connections(self) -> None:
        """Cut every client off, as a rebooting inverter or a Wi-Fi dropout does."""
        assert self._server is not None
        for handler in list(self._server.active_connections.values()):
            handler.close()

    def _on_connect(self, connected: bool) -> None:
        if not connected:
            return
        self.connections += 1
        assert self._server is not None
        if len(self._server.active_connections) > 1:  # the inverter serves one client
            newest = list(self._server.active_connections.values())[-1]
            newest.close()

    async def _on_request(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.reads.append((address, count))
        if self.on_read is not None:
            self.on_read(address, count)
        if self.refuse:
            return ExcCodes.DEVICE_BUSY
        for at, words in self._image().items():
            registers[at - start_address] = words
        return None

    def _image(self) -> dict[int, int]:
        """Every register, written afresh with this reading's scale factors."""
        r = self.readings
        sf, esf = next(self._sfs), next(self._energy_sfs)
        image: dict[int, int] = {}

        def put(at: int, words: list[int] | tuple[int, ...]) -> None:
            for i, w in enumerate(words):
                image[at + i] = w

        put(INVERTER, [r.inverter_model, 50])
        inv_sf = _fit([r.ac_power, r.dc_power], sf)
        put(40083, [*_scaled([r.ac_power], inv_sf), _int16(inv_sf)])
        self.energy_scale_factors.add(esf)
        put(40093, [*_acc32(r.inverter_energy, esf), esf])
        put(40100, [*_scaled([r.dc_power], inv_sf), _int16(inv_sf)])
        put(40107, [r.inverter_status, 0])

        exported = [-p + 0.0 for p in r.grid_power]  # SolarEdge's meter: export > 0
        total = sum(exported)
        currents = [math.copysign(abs(p) / r.voltage, p) for p in exported]
        put(METER, [r.meter_model, 105])
        csf = _fit(currents, -2)
        put(40191, [*_scaled(currents, csf), _int16(csf)])
        put(40196, _scaled([r.voltage] * 3, -1))
        put(40203, [_int16(-1)])
        msf = _fit([total, *exported], sf)
        self.power_scale_factors.add(msf)
        put(40206, [*_scaled([total, *exported], msf), _int16(msf)])
        put(40226, _acc32(r.energy_export, esf))
        put(40234, _acc32(r.energy_import, esf))
        put(40242, [esf])

        put(BATTERY + 4, _float32(r.battery_power))
        put(0xE184, _float32(r.soc))
        put(0xE186, [r.battery_status, 0])

        for name in r.missing:
            at, words = SENTINELS[name]
            put(at, words)
        return image
