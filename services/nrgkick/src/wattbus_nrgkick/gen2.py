"""The NRGKICK Gen2's local JSON API, as its documentation has it: `GET /info`, `GET /values`
and `GET /control`, each taking section flags, and `/control` taking its settings as query
parameters on the same GET. BasicAuth is optional (switched on in the app); 401 and 403 mean
the login is wrong. A write that fails answers `{"Response": "<message>"}`."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

from wattbus_nrgkick.exceptions import NrgkickAuthError, NrgkickError, NrgkickRefused

TIMEOUT = 10.0  # s per request, as the nrgkick-api client has it


class Gen2:
    def __init__(
        self, base_url: str, *, auth: tuple[str, str] | None = None, timeout: float = TIMEOUT
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, auth=auth, timeout=timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def info(self) -> dict[str, Any]:
        """`/info?raw&general&connector&versions`: ratings, connector, serial, firmware
        (`raw`: enums as numbers, which do not change with the firmware's wording)."""
        return await self._get("/info", "raw&general&connector&versions")

    async def values(self) -> dict[str, Any]:
        return await self._get("/values", "raw&energy&powerflow&general")

    async def control(self) -> dict[str, Any]:
        """`{"current_set": 6, "charge_pause": 0, "energy_limit": 0, "phase_count": 3}`"""
        return await self._get("/control", "")

    async def set_current(self, amps: float) -> None:
        await self._set("current_set", amps)

    async def set_charge_pause(self, paused: bool) -> None:
        await self._set("charge_pause", int(paused))

    async def set_phase_count(self, phases: int) -> None:
        """Taken only when phase switching is enabled in the app."""
        await self._set("phase_count", phases)

    async def _set(self, key: str, value: float) -> None:
        body = await self._get("/control", f"{key}={value:g}")
        if key not in body:  # a write echoes its key; a refusal carries the charger's words
            raise NrgkickRefused(str(body.get("Response") or f"{key} not taken: {body}"))

    async def _get(self, path: str, query: str) -> dict[str, Any]:
        url = f"{path}?{query}" if query else path
        try:
            response = await self._http.get(url)
        except httpx.HTTPError as err:
            raise NrgkickError(f"{path}: {type(err).__name__}: {err}") from err
        if response.status_code in (401, 403):
            raise NrgkickAuthError(f"{path}: HTTP {response.status_code}: check the login")
        if response.status_code != 200:
            raise NrgkickError(f"{path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as err:
            raise NrgkickError(f"{path}: the answer is not JSON") from err
        if not isinstance(body, dict):
            raise NrgkickError(f"{path}: the answer is not a JSON object")
        return body
