"""A SolarEdge inverter over Modbus TCP: one persistent connection, as the inverter serves one
client at a time (a second one, or a connection opened per reading, locks the other out).

The connection is opened at the first read, kept, and after any failure closed and opened again
at the next read: the bridge's back-off paces the retries, so pymodbus's own reconnect loop is
switched off and never races it."""

from __future__ import annotations

import asyncio

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from wattbus.closing import AsyncClosing

from wattbus_solaredge.registers import (
    BATTERY_COUNT,
    INVERTER_COUNT,
    INVERTER_START,
    METER_COUNT,
    Battery,
    Inverter,
    battery_start,
    decode_battery,
    decode_inverter,
    meter_start,
)

DEFAULT_PORT = 1502  # what SolarEdge sets up; some installers use 502
DEFAULT_UNIT = 1
TIMEOUT = 3.0  # s for one answer: the inverter answers on the LAN in milliseconds


class SolarEdgeError(Exception):
    """The inverter could not be reached, or refused a read. (A block it sent that cannot be
    right is a `RegisterError`.)"""


class SolarEdge(AsyncClosing):
    def __init__(
        self, host: str, *, port: int = DEFAULT_PORT, unit: int = DEFAULT_UNIT,
        timeout: float = TIMEOUT,
    ) -> None:  # fmt: skip
        self.host, self.port, self.unit = host, port, unit
        self._client = AsyncModbusTcpClient(
            host, port=port, timeout=timeout, retries=0, reconnect_delay=0
        )
        self._lock = asyncio.Lock()  # the devices' bridges take turns

    async def close(self) -> None:
        self._client.close()

    async def read_registers(self, address: int, count: int) -> list[int]:
        """One holding-register request; the connection is (re)opened if it is not open."""
        async with self._lock:
            return await self._read(address, count)

    async def _read(self, address: int, count: int) -> list[int]:
        # A connection the inverter dropped (a reboot, a Wi-Fi dropout) is only found dead by
        # the read that fails on it: that read is tried once more on a fresh connection.
        for fresh in (not self._client.connected, True):
            if not self._client.connected and not await self._client.connect():
                raise SolarEdgeError(f"cannot connect to {self.host}:{self.port}")
            try:
                result = await self._client.read_holding_registers(
                    address, count=count, device_id=self.unit
                )
                break
            except ModbusException as err:
                self._client.close()
                if fresh:
                    raise SolarEdgeError(f"{self.host}:{self.port}: {err}") from err
        if result.isError():
            raise SolarEdgeError(f"read of {count} registers at {address} refused: {result}")
        if len(result.registers) != count:
            raise SolarEdgeError(
                f"asked {count} registers at {address}, got {len(result.registers)}"
            )
        return list(result.registers)

    # Decoders raise RegisterError for a block that cannot be right.
    async def inverter(self) -> Inverter:
        return decode_inverter(await self.read_registers(INVERTER_START, INVERTER_COUNT))

    async def meter_registers(self, n: int) -> list[int]:
        return await self.read_registers(meter_start(n), METER_COUNT)

    async def battery(self, n: int) -> Battery:
        return decode_battery(await self.read_registers(battery_start(n), BATTERY_COUNT))
