"""The Smappee cloud API (v3), as its manual has it: an OAuth2 password grant for a token,
`GET /servicelocation` for the homes the login sees, and
`GET /servicelocation/<id>/consumption?aggregation=1&from=<ms>&to=<ms>` for 5-minute blocks.

Tokens last 10 h (`expires_in`); one is renewed with its refresh token shortly before it ends,
and a refused refresh, or a 401 on a call, logs in again (once per call). Smappee documents no
rate limit: a 429 is honoured for its `Retry-After`, a 5xx backs off, doubling, and until then
no request is sent at all. Every request is counted in `calls`, for the figure "calls an hour".
httpx and JSON errors become this package's errors here and nowhere else.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from wattbus.closing import AsyncClosing
from wattbus.models import utcnow

from wattbus_smappee.exceptions import SmappeeAuthError, SmappeeBusy, SmappeeError

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(15.0, connect=5.0)  # s: what the smappee_ev integration waits
RENEW_BEFORE = timedelta(minutes=5)  # a token is renewed this long before it ends
BACKOFF_FIRST = timedelta(minutes=1)  # after a 5xx; doubled for each one after
BACKOFF_MAX = timedelta(minutes=15)
RETRY_AFTER_MAX = timedelta(hours=1)  # a longer Retry-After is taken as this
AGGREGATION_5_MIN = 1


@dataclass(frozen=True)
class Login:
    client_id: str
    client_secret: str = field(repr=False)
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Token:
    access: str = field(repr=False)
    refresh: str | None = field(repr=False)
    expires: datetime

    def good_at(self, t: datetime, lifetime: timedelta) -> bool:
        """Usable at `t` without renewing: a margin before its end (half a short token's life)."""
        return t < self.expires - min(RENEW_BEFORE, lifetime / 2)


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


class SmappeeClient(AsyncClosing):
    def __init__(
        self,
        base_url: str,
        login: Login,
        *,
        clock: Callable[[], datetime] = utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.login = login
        self.token: Token | None = None
        self.calls: Counter[str] = Counter()  # requests sent, by what they asked
        self.not_before: datetime | None = None  # no request before this (429, 5xx)
        self._lifetime = timedelta(hours=10)
        self._backoff = BACKOFF_FIRST
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=TIMEOUT, transport=transport, trust_env=False
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def locations(self) -> list[dict[str, Any]]:
        """`serviceLocations`: each with `serviceLocationId` and `name`."""
        body = await self._api("locations", "/servicelocation", {})
        found = body.get("serviceLocations")
        if not isinstance(found, list):
            raise SmappeeError("/servicelocation: no serviceLocations in the answer")
        return [x for x in found if isinstance(x, dict)]

    async def consumption(self, location: int, start: datetime, end: datetime) -> dict[str, Any]:
        """The 5-minute blocks in [start, end): `{"serviceLocationId", "consumptions": [...]}`."""
        query = {"aggregation": AGGREGATION_5_MIN, "from": _ms(start), "to": _ms(end)}
        return await self._api("consumption", f"/servicelocation/{location}/consumption", query)

    async def _api(self, kind: str, path: str, query: dict[str, int]) -> dict[str, Any]:
        """A call with a good token; a 401 drops it and logs in again, once."""
        for attempt in (1, 2):
            token = await self._authorise()
            response = await self._send(kind, "GET", path, params=query,
                                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            if response.status_code == 401 and attempt == 1:
                log.info("%s: token refused (401): logging in again", path)
                self.token = None
                continue
            return self._body(path, response)
        raise AssertionError("unreachable")  # the loop returns or raises on its second turn

    async def _authorise(self) -> str:
        now = self._clock()
        token = self.token
        if token is not None and token.good_at(now, self._lifetime):
            return token.access
        if token is not None and token.refresh is not None:
            grant = {"grant_type": "refresh_token", "refresh_token": token.refresh}
            try:
                self.token = await self._grant("refresh", grant)
                return self.token.access
            except SmappeeAuthError as err:
                log.info("refresh token refused (%s): logging in again", err)
        self.token = None
        grant = {"grant_type": "password", "username": self.login.username,
                 "password": self.login.password}  # fmt: skip
        try:
            self.token = await self._grant("token", grant)
        except SmappeeAuthError:
            self.not_before = now + BACKOFF_MAX  # a refused login is not retried every poll
            raise
        return self.token.access

    async def _grant(self, kind: str, grant: dict[str, str]) -> Token:
        form = grant | {"client_id": self.login.client_id,
                        "client_secret": self.login.client_secret}  # fmt: skip
        response = await self._send(kind, "POST", "/oauth2/token", data=form)
        if response.status_code in (400, 401, 403):
            raise SmappeeAuthError(f"login refused (HTTP {response.status_code}): "
                                   "check the client id and secret and the login")  # fmt: skip
        body = self._body("/oauth2/token", response)
        access, refresh, lifetime = (
            body.get("access_token"), body.get("refresh_token"), body.get("expires_in")
        )  # fmt: skip
        if not isinstance(access, str) or not access:
            raise SmappeeError("/oauth2/token: no access_token in the answer")
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise SmappeeError("/oauth2/token: no expires_in in the answer")
        self._lifetime = timedelta(seconds=lifetime)
        return Token(access, refresh if isinstance(refresh, str) and refresh else None,
                     self._clock() + self._lifetime)  # fmt: skip

    async def _send(self, kind: str, method: str, path: str, **kw: Any) -> httpx.Response:
        """One request, unless the cloud asked to wait; a 429 or 5xx sets that wait."""
        now = self._clock()
        if self.not_before is not None and now < self.not_before:
            raise SmappeeBusy(f"the cloud asked to wait until {self.not_before:%H:%M:%S}",
                              self.not_before)  # fmt: skip
        self.calls[kind] += 1
        try:
            response = await self._http.request(method, path, **kw)
        except httpx.TimeoutException as err:
            raise SmappeeError(f"{path}: the cloud did not answer in time") from err
        except httpx.HTTPError as err:
            raise SmappeeError(f"{path}: {type(err).__name__}: {err}") from err
        if response.status_code == 429:
            wait = _retry_after(response.headers.get("Retry-After"), self._backoff)
            self.not_before = now + wait
            raise SmappeeBusy(f"{path}: HTTP 429: waiting {wait.total_seconds():.0f} s",
                              self.not_before)  # fmt: skip
        if response.status_code >= 500:
            self.not_before = now + self._backoff
            seconds = self._backoff.total_seconds()
            message = f"{path}: HTTP {response.status_code}: waiting {seconds:.0f} s"
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            raise SmappeeBusy(message, self.not_before)
        self._backoff = BACKOFF_FIRST
        return response

    @staticmethod
    def _body(path: str, response: httpx.Response) -> dict[str, Any]:
        if response.status_code != 200:
            raise SmappeeError(f"{path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as err:
            raise SmappeeError(f"{path}: the answer is not JSON") from err
        if not isinstance(body, dict):
            raise SmappeeError(f"{path}: the answer is not a JSON object")
        return body


def _retry_after(value: str | None, otherwise: timedelta) -> timedelta:
    """`Retry-After` in seconds (the HTTP-date form is not expected of an API); without one,
    the 5xx back-off."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        seconds = None
    if seconds is None or not 0 <= seconds < float("inf"):
        return otherwise
    return min(timedelta(seconds=seconds), RETRY_AFTER_MAX)
