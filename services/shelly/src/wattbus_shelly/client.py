"""The Shelly Pro 3EM over Gen2 RPC on HTTP: `GET /rpc/<Method>?id=0`, digest auth when enabled.

One `httpx.AsyncClient` per device, kept alive between polls. The device serves only a few HTTP
channels at once, so the pool is capped at the two requests `read()` sends together.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError
from wattbus.closing import AsyncClosing
from wattbus.models import MeterState, utcnow

from .exceptions import (
    DeviceConnectionError,
    DeviceResponseError,
    DeviceTimeoutError,
    InvalidAuthError,
    ShellyError,
)
from .models import DeviceInfo, EMDataStatus, EMStatus

DEFAULT_PORT = 80
DEFAULT_TIMEOUT = 10.0  # s per request, as aioshelly's HTTP_CALL_TIMEOUT
MAX_CONNECTIONS = 2  # read() sends EM and EMData together
AUTH_USER = "admin"  # Gen2 digest auth knows no other user
EM_ID = 0  # the triphase profile has one EM and one EMData component

Answer = TypeVar("Answer", bound=BaseModel)


class ShellyPro3EM(AsyncClosing):
    """A Shelly Pro 3EM grid meter; use as `async with ShellyPro3EM(host) as meter:`."""

    def __init__(
        self,
        host: str,
        *,
        password: str | None = None,
        port: int = DEFAULT_PORT,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.url = base_url(host, port)
        self._has_password = bool(password)
        self._clock = clock
        self._client = httpx.AsyncClient(
            base_url=self.url,
            auth=httpx.DigestAuth(AUTH_USER, password) if password else None,
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
            ),
            # Mongoose OS's RPC HTTP channel, which Gen2 firmware builds on, closes the connection
            # after each answer unless the request asks to keep it alive.
            headers={"Connection": "keep-alive"},
            # plain HTTP on the LAN (base_url): no certificates to load (1.2 MiB a process), and
            # no HTTP_PROXY from the environment between the bridge and its device
            verify=False,
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def device_info(self) -> DeviceInfo:
        return await self._call("Shelly.GetDeviceInfo", DeviceInfo)

    async def em_status(self) -> EMStatus:
        return await self._call("EM.GetStatus", EMStatus, id=EM_ID)

    async def emdata_status(self) -> EMDataStatus:
        return await self._call("EMData.GetStatus", EMDataStatus, id=EM_ID)

    async def read(self) -> MeterState:
        """Power now and energy counters, fetched together so they describe the same moment."""
        try:
            async with asyncio.TaskGroup() as group:
                em = group.create_task(self.em_status())
                data = group.create_task(self.emdata_status())
        except* ShellyError as errors:
            # Callers catch ShellyError, not groups: re-raise the first failure itself, whose
            # cause is already the library error. The other request has been cancelled.
            raise errors.exceptions[0]  # noqa: B904
        return meter_state(em.result(), data.result(), self._clock())

    async def _call(self, method: str, answer: type[Answer], **params: int) -> Answer:
        """The one place where httpx and pydantic errors become this package's errors."""
        try:
            response = await self._client.get(f"/rpc/{method}", params=params)
        except httpx.TimeoutException as err:
            raise DeviceTimeoutError(f"{method}: {self.url} did not answer in time") from err
        except httpx.TransportError as err:
            raise DeviceConnectionError(f"{method}: {self.url}: {err!r}") from err
        except httpx.HTTPError as err:
            raise DeviceResponseError(f"{method}: {err!r}") from err
        if response.status_code == 401:
            reason = "wrong password" if self._has_password else "the device needs a password"
            raise InvalidAuthError(f"{method}: {reason}")
        if response.status_code != 200:
            raise _error_answer(method, response)
        try:
            return answer.model_validate_json(response.content)
        except ValidationError as err:
            raise DeviceResponseError(
                f"{method}: unexpected answer: {err.errors()[0]['msg']}", status=200
            ) from err


class _RpcError(BaseModel):
    code: int
    message: str


def _error_answer(method: str, response: httpx.Response) -> DeviceResponseError:
    """The GET form answers an RPC error as a bare `{"code", "message"}` with HTTP 404 or 500."""
    status = response.status_code
    try:
        error = _RpcError.model_validate_json(response.content)
    except ValidationError:
        reason = f"{method}: HTTP {status} {response.reason_phrase}"
        return DeviceResponseError(reason, status=status)
    return DeviceResponseError(
        f"{method}: {error.message} ({error.code})", code=error.code, status=status
    )


def signed_current(current: float, power: float) -> float:
    """The device's current is unsigned; wattbus gives it the sign of the phase's power."""
    return -abs(current) if power < 0 else abs(current)


def meter_state(em: EMStatus, data: EMDataStatus | None, ts: datetime) -> MeterState:
    """Same sign as the device (> 0 import) and the same units (W, A, V, Wh): nothing to scale.
    Without `data` (a pushing device sends it once a minute) the energy counters are left out."""
    return MeterState(
        ts=ts,
        power=em.total_act_power,
        power_l1=em.a_act_power,
        power_l2=em.b_act_power,
        power_l3=em.c_act_power,
        current_l1=signed_current(em.a_current, em.a_act_power),
        current_l2=signed_current(em.b_current, em.b_act_power),
        current_l3=signed_current(em.c_current, em.c_act_power),
        voltage_l1=em.a_voltage,
        voltage_l2=em.b_voltage,
        voltage_l3=em.c_voltage,
        energy_import=data.total_act if data is not None else None,
        energy_export=data.total_act_ret if data is not None else None,
    )


def base_url(host: str, port: int = DEFAULT_PORT) -> httpx.URL:
    """`host` may carry its own port (`192.168.1.50:8080`, `[fe80::1]:8080`), as users copy it."""
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        pass
    else:
        return httpx.URL(scheme="http", host=host, port=port)
    try:
        url = httpx.URL(f"http://{host}")
    except httpx.InvalidURL as err:
        raise ValueError(f"not a host: {host!r}") from err
    if not url.host or url.userinfo or url.query or url.path not in ("", "/"):
        raise ValueError(f"not a host: {host!r}")
    if url.port is not None and port not in (DEFAULT_PORT, url.port):
        raise ValueError(f"two ports: {host!r} and port={port}")
    return httpx.URL(scheme="http", host=url.host, port=url.port or port)
