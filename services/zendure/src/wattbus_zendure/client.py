"""A Zendure SolarFlow (800, 800 Pro, 2400 AC) over its zenSDK local HTTP API.

The API has two calls: `GET /properties/report` returns every property, `POST
/properties/write` takes `{"sn", "properties"}`. There is no authentication; the local API has to
be enabled in the Zendure app first (see docs/devices/zendure-solarflow.md).

Every write carries `smartMode: 1`, which keeps the value in RAM: a property written with
`smartMode: 0` goes to flash, and wattbus writes often (holds, limits), so flash would wear.
The price is that a reboot brings back the values last stored in flash. The one exception is
a restore of the owner's own settings, which carries the smartMode the owner had
(`owners_smart_mode`): an owner who keeps the unit at smartMode 0 gets exactly that back, at
the cost of one flash write.

The HTTP is one kept-alive connection framed by h11 (connection.py says why not httpx).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping
from typing import Any

import h11
from pydantic import ValidationError
from wattbus.closing import AsyncClosing

from wattbus_zendure.connection import Connection
from wattbus_zendure.exceptions import (
    DeviceConnectionError,
    DeviceRefusedError,
    DeviceResponseError,
    DeviceTimeoutError,
)
from wattbus_zendure.models import SOC_SCALE, Report

DEFAULT_PORT = 80
REQUEST_TIMEOUT = 2.0  # s, a whole request; Zendure-HA uses ClientTimeout(total=2)
REPORT_PATH = b"/properties/report"
WRITE_PATH = b"/properties/write"
CONTENT_TYPE = b"application/json; charset=UTF-8"  # what Zendure-HA sends
OK = 200
CLIENT_ERRORS = range(400, 500)  # the device refused the request and applied nothing
SMART_MODE_RAM = 1  # smartMode 1: not written to flash
SMART_MODE_FLASH = 0  # smartMode 0: written to flash
BODY_EXCERPT = 200  # characters of an unexpected body kept in an error


class SolarFlow(AsyncClosing):
    """One SolarFlow. Use as `async with SolarFlow(host) as flow:`; it owns its HTTP client."""

    def __init__(self, host: str, *, port: int = DEFAULT_PORT, timeout: float = REQUEST_TIMEOUT):
        self.host = host
        self.port = port
        self.timeout = timeout
        self._http = Connection(host, port)
        self._sn: str | None = None
        self._next_id = 1

    async def close(self) -> None:
        await self._http.close()

    @property
    def sn(self) -> str | None:
        """The serial number every write must carry, known after the first report."""
        return self._sn

    async def report(self) -> Report:
        """All properties, in device units (`Report.battery_state` converts them)."""
        content = await self._request(b"GET", REPORT_PATH)
        try:
            report = Report.model_validate_json(content)
        except ValidationError as err:
            raise DeviceResponseError(
                f"{self.host}: not the documented report: {err.errors()[0]['msg']}",
                status=OK,
                body=_excerpt(content),
            ) from err
        self._sn = report.sn
        return report

    async def write(
        self, properties: Mapping[str, int], *, owners_smart_mode: int | None = None
    ) -> None:
        """Write properties in device units with `smartMode: 1` (RAM, not flash).

        `owners_smart_mode` is for one write only: putting back the owner's own settings with
        the smartMode the device reported before wattbus first wrote to it. 0 then stores the
        write in flash, as the owner had it. Nothing else may write smartMode 0.

        An answer of 200 means the device took the request, not that it applied every value:
        read back to be sure. A refused write raises `DeviceRefusedError`.
        """
        if not properties:
            raise ValueError("nothing to write")
        for name, value in properties.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an int in device units, not {value!r}")
        if properties.get("smartMode", SMART_MODE_RAM) != SMART_MODE_RAM:
            raise ValueError(
                "smartMode 0 writes to flash; only a restore of the owner's own mode "
                "(owners_smart_mode) may"
            )
        smart_mode = SMART_MODE_RAM if owners_smart_mode is None else owners_smart_mode
        if smart_mode not in (SMART_MODE_RAM, SMART_MODE_FLASH):
            raise ValueError(f"smartMode is 0 or 1, not {owners_smart_mode!r}")
        sn = self._sn if self._sn is not None else (await self.report()).sn
        body = {
            "sn": sn,
            "id": self._next_id,
            "properties": {"smartMode": smart_mode}
            | {name: value for name, value in properties.items() if name != "smartMode"},
        }
        self._next_id += 1
        await self._request(b"POST", WRITE_PATH, body)

    async def write_settings(
        self,
        *,
        min_soc: float | None = None,
        output_limit: float | None = None,
        owners_smart_mode: int | None = None,
    ) -> None:
        """Write the discharge floor (%) and the AC output limit (W) in one request;
        `owners_smart_mode` as in `write`."""
        properties: dict[str, int] = {}
        if min_soc is not None:
            if not 0 <= min_soc <= 100:
                raise ValueError(f"min_soc must be 0-100 %, not {min_soc!r}")
            properties["minSoc"] = round(min_soc * SOC_SCALE)
        if output_limit is not None:
            if not (math.isfinite(output_limit) and output_limit >= 0):
                raise ValueError(f"output_limit must be >= 0 W, not {output_limit!r}")
            properties["outputLimit"] = round(output_limit)
        await self.write(properties, owners_smart_mode=owners_smart_mode)

    async def set_min_soc(self, percent: float) -> None:
        """The discharge floor, in %; the device takes tenths of a percent."""
        await self.write_settings(min_soc=percent)

    async def set_output_limit(self, watts: float) -> None:
        """The most AC power, in W, the unit delivers to the home."""
        await self.write_settings(output_limit=watts)

    async def _request(
        self, method: bytes, path: bytes, body: dict[str, Any] | None = None
    ) -> bytes:
        """The answer's body; the one place where transport errors become this package's
        errors."""
        what = f"{method.decode()} {path.decode()}"
        headers = [(b"accept", b"application/json")]
        content = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers.append((b"content-type", CONTENT_TYPE))
        try:
            async with asyncio.timeout(self.timeout):
                status, answer = await self._http.request(method, path, headers, content)
        except TimeoutError as err:
            raise DeviceTimeoutError(
                f"{self.host}: no answer to {what} within {self.timeout} s"
            ) from err
        except (OSError, h11.ProtocolError) as err:
            raise DeviceConnectionError(f"{self.host}: {what} failed: {err!r}") from err
        if status in CLIENT_ERRORS:
            text = _excerpt(answer)
            raise DeviceRefusedError(
                f"{self.host}: {what} refused, HTTP {status}: {text}", status=status, body=text
            )
        if status != OK:
            text = _excerpt(answer)
            raise DeviceResponseError(
                f"{self.host}: {what} answered HTTP {status}: {text}", status=status, body=text
            )
        return answer


def _excerpt(content: bytes) -> str:
    return content[:BODY_EXCERPT].decode("utf-8", errors="replace")
