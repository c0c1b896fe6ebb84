"""The older NRGKICK's Connect box (a Bluetooth bridge) and its HTTP API:
`GET /api/measurements/<mac>`, `GET /api/settings/<mac>`, and a `PUT` of the settings that
carries the Connect's password. With no charger in reach the measurements answer
`{"Message": "No content found for this request"}`."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

from wattbus_nrgkick.exceptions import NrgkickError

TIMEOUT = 5.0  # s: what tcoq's charge manager waits for a Connect


class Connect:
    def __init__(self, base_url: str, mac: str, password: str, *, timeout: float = TIMEOUT) -> None:
        self.mac = mac
        self._password = password
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def measurements(self) -> dict[str, Any]:
        return await self._call("GET", f"/api/measurements/{self.mac}")

    async def settings(self) -> dict[str, Any]:
        return await self._call("GET", f"/api/settings/{self.mac}")

    async def put_settings(self, charging: bool, amps: float) -> None:
        """Both values at once, as evcc and tcoq send them; the password as a JSON string."""
        values = {
            "ChargingStatus": {"Charging": charging},
            "ChargingCurrent": {"Value": amps},
            "DeviceMetadata": {"Password": self._password},
        }
        await self._call("PUT", f"/api/settings/{self.mac}", {"Values": values})

    async def _call(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        try:
            response = await self._http.request(method, path, json=body)
        except httpx.HTTPError as err:
            raise NrgkickError(f"{path}: {type(err).__name__}: {err}") from err
        if response.status_code != 200:
            raise NrgkickError(f"{path}: HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as err:
            raise NrgkickError(f"{path}: the answer is not JSON") from err
        if not isinstance(data, dict):
            raise NrgkickError(f"{path}: the answer is not a JSON object")
        return data
