"""The Gen1 Shelly 3EM over its HTTP REST API: `GET /status`, HTTP Basic auth when enabled.

Same shape as the Gen2 `ShellyPro3EM`: one `httpx.AsyncClient` per device, `device_info()` and
`read()`, and the same exceptions. One request per reading, so one connection is enough.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

import httpx
from pydantic import ValidationError
from wattbus.closing import AsyncClosing
from wattbus.models import MeterState, utcnow

from .client import DEFAULT_PORT, DEFAULT_TIMEOUT, base_url, signed_current
from .exceptions import (
    DeviceConnectionError,
    DeviceResponseError,
    DeviceTimeoutError,
    InvalidAuthError,
)
from .models import DeviceInfo, Gen1DeviceInfo, Gen1Emeter, Gen1Status, identify

log = logging.getLogger(__name__)

DEFAULT_USERNAME = "admin"  # Gen1 lets the user choose it; `admin` is the common choice
MAX_CONNECTIONS = 1  # read() sends one request
SUM_DIGITS = 3  # sums of the device's 1-2 decimal values, rounded to drop float noise
PHASES = ("L1", "L2", "L3")

Answer = TypeVar("Answer")


class Shelly3EMGen1(AsyncClosing):
    """A Gen1 Shelly 3EM grid meter; use as `async with Shelly3EMGen1(host) as meter:`."""

    def __init__(
        self,
        host: str,
        *,
        username: str = DEFAULT_USERNAME,
        password: str | None = None,
        port: int = DEFAULT_PORT,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.url = base_url(host, port)
        self._has_password = bool(password)
        self._clock = clock
        self._invalid: tuple[str, ...] = ()  # phases last seen with is_valid false
        self._client = httpx.AsyncClient(
            base_url=self.url,
            auth=httpx.BasicAuth(username, password) if password else None,
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
            ),
            # plain HTTP on the LAN (base_url): no certificates to load (1.2 MiB a process), and
            # no HTTP_PROXY from the environment between the bridge and its device
            verify=False,
            trust_env=False,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def identify(self) -> DeviceInfo | Gen1DeviceInfo:
        """`GET /shelly`, of any generation. Sent without credentials: every generation leaves
        it open, and Basic auth would hand the password in clear to whatever answers."""
        response = await self._get("/shelly", authenticate=False)
        return _parse("/shelly", response, identify)

    async def device_info(self) -> Gen1DeviceInfo:
        info = await self.identify()
        if not isinstance(info, Gen1DeviceInfo):
            raise DeviceResponseError(
                f"/shelly: {self.url} is a Gen{info.gen} device ({info.model}), not a Gen1 "
                "3EM: set the generation to auto or 2",
                status=200,
            )
        return info

    async def status(self) -> Gen1Status:
        return _parse("/status", await self._get("/status"), Gen1Status.model_validate_json)

    async def read(self) -> MeterState:
        status = await self.status()
        self._note_invalid(invalid_phases(status.emeters))
        return meter_state(status, self._clock())

    def _note_invalid(self, invalid: tuple[str, ...]) -> None:
        """Say once when phases turn invalid or valid again; the state only shows gaps."""
        if invalid == self._invalid:
            return
        if invalid:
            log.warning("%s: %s is_valid false: not published", self.url, ", ".join(invalid))
        else:
            log.info("%s: every phase valid again", self.url)
        self._invalid = invalid

    async def _get(self, path: str, *, authenticate: bool = True) -> httpx.Response:
        """The one place where httpx errors and HTTP statuses become this package's errors."""
        try:
            if authenticate:
                response = await self._client.get(path)
            else:
                response = await self._client.get(path, auth=None)
        except httpx.TimeoutException as err:
            raise DeviceTimeoutError(f"{path}: {self.url} did not answer in time") from err
        except httpx.TransportError as err:
            raise DeviceConnectionError(f"{path}: {self.url}: {err!r}") from err
        except httpx.HTTPError as err:
            raise DeviceResponseError(f"{path}: {err!r}") from err
        if response.status_code == 401:
            reason = (
                "wrong username or password"
                if self._has_password
                else "the device needs a username and password"
            )
            raise InvalidAuthError(f"{path}: {reason}")
        if response.status_code != 200:
            # Gen1 has no RPC error object: the status line is all there is.
            reason = f"{path}: HTTP {response.status_code} {response.reason_phrase}"
            raise DeviceResponseError(reason, status=response.status_code)
        return response


def _parse(path: str, response: httpx.Response, parse: Callable[[bytes], Answer]) -> Answer:
    try:
        return parse(response.content)
    except ValidationError as err:
        raise DeviceResponseError(
            f"{path}: unexpected answer: {err.errors()[0]['msg']}", status=200
        ) from err


def invalid_phases(emeters: Iterable[Gen1Emeter]) -> tuple[str, ...]:
    return tuple(name for name, e in zip(PHASES, emeters, strict=True) if not e.is_valid)


def _phase(e: Gen1Emeter) -> tuple[float | None, float | None, float | None]:
    """Power, signed current and voltage; all None when the device marks the phase invalid."""
    if not e.is_valid:
        return None, None, None
    return e.power, signed_current(e.current, e.power), e.voltage


def _sum(values: Iterable[float]) -> float:
    return round(sum(values), SUM_DIGITS)


def meter_state(status: Gen1Status, ts: datetime) -> MeterState:
    """Same sign as the device (> 0 import) and the same units (W, A, V, Wh): nothing to scale.

    A phase with `is_valid: false` is one the device itself distrusts, so its power, current
    and voltage become None, absent from the published state, rather than numbers that look
    measured (what the device sends for such a phase is not documented). Around such a phase:
    - `power` is the sum of the valid phases, not `total_power`, which still counts the
      distrusted one; if no phase is valid there is no reading at all (DeviceResponseError,
      so the bridge says `offline`).
    - The energy counters are left out until every phase is valid again: a sum without one
      phase goes down, and Home Assistant reads a `total_increasing` value that goes down as a
      meter reset, then counts the whole counter again when the phase comes back.
    """
    emeters = status.emeters
    valid = [e for e in emeters if e.is_valid]
    if not valid:
        raise DeviceResponseError("/status: no phase is valid (is_valid false)", status=200)
    whole = len(valid) == len(emeters)
    if whole and status.total_power is not None:
        power = status.total_power
    else:
        power = _sum(e.power for e in valid)
    (p1, c1, v1), (p2, c2, v2), (p3, c3, v3) = (_phase(e) for e in emeters)
    return MeterState(
        ts=ts,
        power=power,
        power_l1=p1,
        power_l2=p2,
        power_l3=p3,
        current_l1=c1,
        current_l2=c2,
        current_l3=c3,
        voltage_l1=v1,
        voltage_l2=v2,
        voltage_l3=v3,
        energy_import=_sum(e.total for e in emeters) if whole else None,
        energy_export=_sum(e.total_returned for e in emeters) if whole else None,
    )
