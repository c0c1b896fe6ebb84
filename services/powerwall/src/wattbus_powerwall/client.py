"""A Tesla Powerwall through pypowerwall, on the route its owner chose: the gateway on the LAN
(`local`), Tesla's FleetAPI, or Tesla's cloud (the app's own API).

pypowerwall is synchronous (requests), so every call runs in a thread, one at a time per
gateway: its HTTP session is not meant for two threads. It connects in its constructor and
logs in again by itself when a session expires.

Reads go through the local API's paths on every route (pypowerwall maps them onto the cloud's
data), with `force` so that no answer comes from its 5 s cache: a state is stamped with the
time it was read. Most pypowerwall failures are a `None` and a log line, which this client
turns into a `PowerwallError`; an answer without the fields used is one too, never a zero.

Writes are never trusted. Tesla applies the reserve and the mode as two commands and can drop
either (the cloud routes even report success before the battery applies them), so `write`
reads back, after a settling time on the remote routes, and writes what is missing again, a
bounded number of times. A local gateway refuses a customer login's write with 403: that is
a `WriteRefusedError` naming the routes that can write.

pypowerwall ships no type information; what it returns is checked here, at the edge.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ValidationError
from pypowerwall import Powerwall
from pypowerwall.exceptions import PyPowerwallInvalidConfigurationParameter
from pypowerwall.local.exceptions import LoginError
from wattbus.closing import AsyncClosing
from wattbus.service import ConfigError

from wattbus_powerwall.exceptions import (
    GatewayConnectionError,
    GatewayResponseError,
    InvalidAuthError,
    NotAppliedError,
    PowerwallError,
    WriteRefusedError,
)
from wattbus_powerwall.models import (
    Aggregates,
    OperationAnswer,
    Reading,
    Settings,
    Soe,
    Status,
)
from wattbus_powerwall.settings import MAX_RESERVE, Route
from wattbus_powerwall.units import raw_percent

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

TIMEOUT = 5  # s per HTTP request, pypowerwall's default
# pypowerwall sends the login's time zone to the gateway, which only records it
TIMEZONE = "UTC"
WRITE_ATTEMPTS = 3  # writes of what did not read back, before NotAppliedError
# s between a write and its read-back: the local gateway applies /api/operation before it
# answers; the cloud routes pass the command on and answer at once
SETTLE: dict[Route, float] = {"local": 0.0, "fleetapi": 5.0, "cloud": 5.0}
READBACKS: dict[Route, int] = {"local": 1, "fleetapi": 6, "cloud": 6}  # reads per attempt
RESERVE_TOLERANCE = 0.5  # %: the gateway keeps a float, the app shows whole percents
FORBIDDEN = 403

WHO_WRITES = (
    "a local gateway takes no writes from a customer login: writes need route fleetapi or "
    "cloud, or route local in v1r LAN mode on a Powerwall 3 (WATTBUS_POWERWALL_RSA_KEY_PATH)"
)


def reads_back(actual: Settings, wanted: Settings) -> bool:
    return actual.operation == wanted.operation and math.isclose(
        actual.reserve, wanted.reserve, abs_tol=RESERVE_TOLERANCE
    )


class Gateway(AsyncClosing):
    """One Powerwall site. `async with Gateway(...) as gw:`, then `await gw.connect()`."""

    def __init__(
        self,
        route: Route,
        *,
        host: str | None = None,
        password: str | None = None,
        gw_pwd: str | None = None,
        rsa_key_path: Path | None = None,
        email: str | None = None,
        failover: bool = False,
        state_dir: Path,
        cachefile: Path,
    ) -> None:
        self.route = route
        self.where = host if route == "local" and host else f"Tesla {route}"
        self._options: dict[str, Any] = {
            "host": host or "",
            "password": password or "",
            "gw_pwd": gw_pwd,
            "rsa_key_path": str(rsa_key_path) if rsa_key_path else None,
            "email": email or "nobody@nowhere.com",  # pypowerwall's own placeholder
            "timezone": TIMEZONE,
            "timeout": TIMEOUT,
            "cloudmode": route != "local",
            "fleetapi": route == "fleetapi",
            "authpath": str(state_dir),
            "cachefile": str(cachefile),
            # never leave the route the owner chose unless asked to: with the default a
            # failed local login goes on to Tesla's cloud
            "failover": failover,
        }
        self._pw: Powerwall | None = None
        self._lock = asyncio.Lock()  # one pypowerwall call at a time
        self._reconnect = False  # a remote route failed: connect again before the next call
        self._last_status: int | None = None  # of the local gateway's last HTTP answer

    @property
    def max_reserve(self) -> float:
        return MAX_RESERVE[self.route]

    async def connect(self) -> None:
        """Build the pypowerwall client, which logs in (or loads the cloud tokens). A gateway
        that is down now is not an error here: the reads say so and pypowerwall logs in
        again once it answers. Settings pypowerwall refuses are a ConfigError (exit 2)."""
        try:
            self._pw = await self._call(lambda: Powerwall(**self._options))
        except PyPowerwallInvalidConfigurationParameter as err:
            raise ConfigError(f"pypowerwall refuses the settings: {err}") from err

    async def close(self) -> None:
        pw, self._pw = self._pw, None
        client = getattr(pw, "client", None)
        session = getattr(client, "session", None)
        if isinstance(session, requests.Session):
            session.close()  # no logout: that would end the cached login for nothing

    # ---- reading --------------------------------------------------------------------------

    async def read(self) -> Reading:
        aggregates = await self._get("/api/meters/aggregates", Aggregates)
        soe = await self._get("/api/system_status/soe", Soe)
        return Reading(aggregates, soe, await self.settings())

    async def settings(self) -> Settings:
        """The operating mode and reserve as the gateway has them now."""
        return Settings.of(await self._get("/api/operation", OperationAnswer))

    async def status(self) -> Status:
        return await self._get("/api/status", Status)

    async def site_name(self) -> str | None:
        """The name the owner gave the site in the app; None if the route has none."""
        payload = await self._poll("/api/site_info/site_name")
        name = payload.get("site_name") if isinstance(payload, dict) else None
        return name if isinstance(name, str) and name.strip() else None

    # ---- writing --------------------------------------------------------------------------

    async def write(self, wanted: Settings) -> None:
        """Put `wanted` on the gateway and see it there. Only what differs is written; what
        does not read back is written again, `WRITE_ATTEMPTS` times in all."""
        if not 0 <= wanted.reserve <= self.max_reserve:
            # an owner's reserve saved from another route (100 % set locally, restored through
            # the cloud): refused as Tesla would, so that a restore ends in its fallback
            raise WriteRefusedError(
                f"route {self.route} takes a reserve of 0-{self.max_reserve:g} %, "
                f"not {wanted.reserve:g} %"
            )
        current = await self.settings()
        for _ in range(WRITE_ATTEMPTS):
            if reads_back(current, wanted):
                return
            await self._post(wanted, current)
            current = await self._read_back(wanted)
        if not reads_back(current, wanted):
            raise NotAppliedError(
                f"{self.where}: after {WRITE_ATTEMPTS} writes it reads back "
                f"{current.describe()} (wrote {wanted.describe()})"
            )

    async def _post(self, wanted: Settings, current: Settings) -> None:
        level: float | None = None
        if not math.isclose(current.reserve, wanted.reserve, abs_tol=RESERVE_TOLERANCE):
            # the local gateway's /api/operation is on the raw scale; the cloud's calls take
            # the app's percent
            level = raw_percent(wanted.reserve) if self.route == "local" else wanted.reserve
        mode = wanted.operation if current.operation != wanted.operation else None
        log.info("%s: writing %s", self.where, wanted.describe())
        self._last_status = None
        pw = await self._client()
        answer = await self._call(lambda: pw.set_operation(level=level, mode=mode))
        if answer is None:
            if self._last_status == FORBIDDEN:
                raise WriteRefusedError(f"{self.where} refused the write (HTTP 403): {WHO_WRITES}")
            raise GatewayConnectionError(f"{self.where}: the write got no answer")
        if isinstance(answer, dict) and "error" in answer:
            raise GatewayResponseError(f"{self.where}: the write failed: {answer['error']}")

    async def _read_back(self, wanted: Settings) -> Settings:
        current = await self.settings()
        for _ in range(READBACKS[self.route] - 1):
            if reads_back(current, wanted):
                break
            await asyncio.sleep(SETTLE[self.route])  # the cloud applies it after answering
            current = await self.settings()
        return current

    # ---- pypowerwall ----------------------------------------------------------------------

    async def _get(self, api: str, model: type[M]) -> M:
        payload = await self._poll(api)
        try:
            return model.model_validate(payload)
        except ValidationError as err:
            raise GatewayResponseError(
                f"{self.where}: {api} is not the documented answer: {err.errors()[0]['msg']}"
            ) from err

    async def _poll(self, api: str) -> object:
        pw = await self._client()
        payload = await self._call(lambda: pw.poll(api, force=True))
        if payload is None:
            raise GatewayConnectionError(f"{self.where}: no answer to {api}")
        return payload

    async def _client(self) -> Powerwall:
        if self._pw is None:
            raise GatewayConnectionError("not connected")
        if self._reconnect:
            pw = self._pw
            if not await self._call(pw.connect):
                raise GatewayConnectionError(
                    f"{self.where}: cannot connect; a route that never worked needs its "
                    "one-time setup (docs/devices/tesla-powerwall.md)"
                )
            self._reconnect = False
        self._watch_statuses()
        return self._pw

    def _watch_statuses(self) -> None:
        """Note the status of the local gateway's answers: pypowerwall turns a refused write
        into `None` like every other failure, and the owner must learn it was a 403."""
        session = getattr(getattr(self._pw, "client", None), "session", None)
        if isinstance(session, requests.Session):
            hooks = session.hooks["response"]
            if self._on_response not in hooks:
                hooks.append(self._on_response)

    def _on_response(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self._last_status = response.status_code

    async def _call(self, fn: Callable[[], T]) -> T:
        """Every pypowerwall call: in a thread, one at a time, its errors made ours."""
        async with self._lock:
            try:
                return await asyncio.to_thread(fn)
            except PyPowerwallInvalidConfigurationParameter:
                raise
            except LoginError as err:
                raise InvalidAuthError(
                    f"{self.where} refused the login: check WATTBUS_POWERWALL_PASSWORD"
                ) from err
            except (requests.RequestException, OSError) as err:  # ConnectionError is an OSError
                self._reconnect = self.route != "local"
                raise GatewayConnectionError(f"{self.where}: {err}") from err
            except Exception as err:  # pypowerwall's own, from any of its backends
                self._reconnect = self.route != "local"
                raise PowerwallError(f"{self.where}: {type(err).__name__}: {err}") from err
