"""A Zappi through myenergi's servers, with pymyenergi speaking the protocol.

pymyenergi asks the director (`/cgi-jstatus-E`, digest auth with the hub serial and the API key)
which server holds the hub, reads that from the `X_MYENERGI-asn` header of every answer, and
follows it when it moves. Its `Connection` is given this client's own `httpx.AsyncClient`: the
default one it builds at import time is never used, and the client is closed with the Zappi.

Each poll is one request (`/cgi-jstatus-Z<serial>`): myenergi's servers are a shared cloud, so
nothing else is asked on the way (pymyenergi's `refresh` would also fetch the boost timetable).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError
from pymyenergi.connection import Connection
from pymyenergi.exceptions import MyenergiException, TimeoutException, WrongCredentials
from pymyenergi.zappi import Zappi as LibraryZappi
from wattbus.closing import AsyncClosing

from wattbus_myenergi.exceptions import (
    InvalidAuthError,
    MyenergiError,
    ServerConnectionError,
    ServerResponseError,
    ServerTimeoutError,
)
from wattbus_myenergi.models import ZappiMode, ZappiStatus

REQUEST_TIMEOUT = 15.0  # s per request; pymyenergi's own default is 20
ALL_DEVICES = "/cgi-jstatus-*"
ZAPPI = "zappi"  # the key of a status answer's list of Zappis

T = TypeVar("T")


class SerialError(MyenergiError):
    """The hub's devices do not say which Zappi to use: none, or several and no serial set."""


class Zappi(AsyncClosing):
    """One Zappi on one hub; use as `async with Zappi(hub, key) as zappi:`. Without `serial`,
    the hub's only Zappi is used, found by the first status."""

    def __init__(
        self,
        hub_serial: str,
        api_key: str,
        *,
        serial: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self.hub_serial = hub_serial
        self.serial = serial
        self._http = httpx.AsyncClient(transport=transport, timeout=timeout)
        self._connection = Connection(hub_serial, api_key, timeout=timeout, asyncClient=self._http)
        self._device: LibraryZappi | None = None

    async def close(self) -> None:
        await self._http.aclose()

    @property
    def server(self) -> str | None:
        """The server the director named (`https://s18.myenergi.net`), once it has."""
        base: str | None = self._connection.base_url
        return base

    async def status(self) -> ZappiStatus:
        device = await self._library_device()
        data = await self._call("status", device.fetch_data())
        device.data = data  # pymyenergi's start_boost reads the mode from here
        return _status(data)

    async def set_mode(self, mode: ZappiMode) -> None:
        device = await self._library_device()
        await self._call(f"mode {mode}", device.set_charge_mode(mode.value))

    async def start_boost(self, kwh: int) -> bool:
        """False: pymyenergi did not send it, as the last status showed neither Eco nor Eco+."""
        device = await self._library_device()
        sent: bool = await self._call(f"boost {kwh} kWh", device.start_boost(kwh))
        return sent

    async def stop_boost(self) -> None:
        device = await self._library_device()
        await self._call("stop boost", device.stop_boost())

    async def _library_device(self) -> LibraryZappi:
        if self._device is None:
            if self.serial is None:
                self.serial = await self._only_zappi()
            self._device = LibraryZappi(self._connection, self.serial)
        return self._device

    async def _only_zappi(self) -> int:
        groups = await self._call("devices", self._connection.get(ALL_DEVICES))
        try:
            zappis = [_status(z).serial for g in groups if ZAPPI in g for z in g[ZAPPI]]
        except TypeError as err:
            raise ServerResponseError(f"{ALL_DEVICES}: not a list of device groups") from err
        if len(zappis) == 1:
            return zappis[0]
        found = ", ".join(map(str, zappis)) or "none"
        raise SerialError(f"hub {self.hub_serial} has Zappis {found}: set the serial to use")

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        """The one place where pymyenergi's and httpx's errors become this package's."""
        try:
            return await call
        except WrongCredentials as err:
            raise InvalidAuthError(
                f"{what}: myenergi knows no hub {self.hub_serial} with this API key"
            ) from err
        except TimeoutException as err:
            raise ServerTimeoutError(f"{what}: {self.server} did not answer in time") from err
        except MyenergiException as err:
            status = getattr(err, "code", None)
            raise ServerResponseError(
                f"{what}: {self.server} answered HTTP {status} {err.message}", status=status
            ) from err
        except httpx.TimeoutException as err:
            raise ServerTimeoutError(f"{what}: no answer in time: {err!r}") from err
        except httpx.TransportError as err:
            raise ServerConnectionError(f"{what}: {err!r}") from err
        except httpx.HTTPError as err:
            raise ServerResponseError(f"{what}: {err!r}") from err
        except ValueError as err:  # the body is not JSON
            raise ServerResponseError(f"{what}: {self.server} answered no JSON") from err
        except (KeyError, IndexError, TypeError) as err:
            if self.server is None:  # pymyenergi went on without the director's answer
                raise ServerConnectionError(f"{what}: the director did not answer") from err
            raise ServerResponseError(f"{what}: not the documented answer: {err!r}") from err


def _status(data: Any) -> ZappiStatus:
    try:
        return ZappiStatus.model_validate(data)
    except ValidationError as err:
        raise ServerResponseError(
            f"not the documented Zappi status: {err.errors()[0]['msg']}"
        ) from err
