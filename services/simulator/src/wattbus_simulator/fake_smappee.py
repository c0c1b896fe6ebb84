"""A fake Smappee cloud API (v3), as docs/devices/smappee.md describes it, on loopback.

`POST /dev/v3/oauth2/token` (the password grant and the refresh grant; a wrong client id or
secret is 401 `invalid_client`, a wrong login or refresh token 400 `invalid_grant`, as OAuth2
servers answer), `GET /dev/v3/servicelocation` and
`GET /dev/v3/servicelocation/<id>/consumption?aggregation=1&from=<ms>&to=<ms>`, which answers
the 5-minute blocks starting in [from, to) in Wh, from a household model averaged over each
block. A block shows only once it has ended and `delay` more has passed, on the fake's own
clock. Tokens really end (`token_lifetime`, settable short).

Misbehaviour is switched on through `faults`: a status (500, 503, 429 with `Retry-After`) for
the next n requests, and tokens revoked. Every request is counted in `calls`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from wattbus.models import utcnow

from wattbus_simulator.http_fake import HttpFake

BASE = "/dev/v3"
BLOCK = timedelta(minutes=5)
TOKEN_LIFETIME = timedelta(hours=10)
SAMPLES = 30  # points of the household model averaged over each block
# W the house uses and W from the roof at a time
Model = Callable[[datetime], float]


@dataclass
class Faults:
    status: int | None = None  # answered instead, to every request, while `count` lasts
    count: int = 0
    retry_after: float | None = None  # s, sent with a 429


@dataclass(frozen=True)
class Call:
    at: datetime
    path: str


@dataclass
class FakeSmappee(HttpFake):
    client_id: str = "wattbus"
    client_secret: str = "secret"
    username: str = "owner"
    password: str = "pass"
    locations: dict[int, str] = field(default_factory=lambda: {12345: "Home"})
    consumption: Model = lambda _t: 450.0
    solar: Model | None = None
    always_on: float | None = 120.0  # W
    clock: Callable[[], datetime] = utcnow
    delay: timedelta = timedelta(seconds=60)  # after a block's end, before it shows
    token_lifetime: timedelta = TOKEN_LIFETIME

    def __post_init__(self) -> None:
        super().__init__()
        self.faults = Faults()
        self.calls: list[Call] = []
        self._tokens: dict[str, datetime] = {}
        self._refresh: set[str] = set()

    @property
    def api(self) -> str:
        """The base URL a client is given (WATTBUS_SMAPPEE_URL)."""
        return self.url + BASE

    def fail(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        self.faults = Faults(status, count, retry_after)

    def revoke_tokens(self) -> None:
        """Every access token stops working; refresh tokens still do."""
        self._tokens.clear()

    def count(self, path_end: str) -> int:
        return sum(1 for c in self.calls if c.path.endswith(path_end))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(BASE + "/oauth2/token", self._token)
        app.router.add_get(BASE + "/servicelocation", self._locations)
        app.router.add_get(BASE + "/servicelocation/{id}/consumption", self._consumption)

    def block(self, start: datetime) -> dict[str, Any]:
        """The block starting at `start`, in Wh, as the API carries it."""
        step = BLOCK / SAMPLES
        times = [start + step * (i + 0.5) for i in range(SAMPLES)]
        hours = BLOCK / timedelta(hours=1)
        entry: dict[str, Any] = {"timestamp": int(start.timestamp() * 1000)}
        entry["consumption"] = round(sum(map(self.consumption, times)) / SAMPLES * hours, 3)
        if self.solar is not None:
            entry["solar"] = round(sum(map(self.solar, times)) / SAMPLES * hours, 3)
        if self.always_on is not None:
            entry["alwaysOn"] = round(self.always_on * hours, 3)
        return entry

    # --- the endpoints -------------------------------------------------------------------------

    def _fault(self, request: web.Request) -> web.Response | None:
        self.calls.append(Call(self.clock(), request.path))
        f = self.faults
        if f.status is None or f.count <= 0:
            return None
        f.count -= 1
        headers = {"Retry-After": f"{f.retry_after:g}"} if f.retry_after is not None else {}
        return web.json_response({"error": "fault"}, status=f.status, headers=headers)

    async def _token(self, request: web.Request) -> web.Response:
        if (fault := self._fault(request)) is not None:
            return fault
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id, self.client_secret
        ):  # fmt: skip
            return web.json_response({"error": "invalid_client"}, status=401)
        grant = form.get("grant_type")
        if grant == "password":
            ok = (form.get("username"), form.get("password")) == (self.username, self.password)
        elif grant == "refresh_token":
            ok = str(form.get("refresh_token")) in self._refresh
            self._refresh.discard(str(form.get("refresh_token")))
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if not ok:
            return web.json_response({"error": "invalid_grant"}, status=400)
        access, refresh = secrets.token_hex(8), secrets.token_hex(8)
        self._tokens[access] = self.clock() + self.token_lifetime
        self._refresh.add(refresh)
        lifetime = int(self.token_lifetime.total_seconds())
        body = {"access_token": access, "refresh_token": refresh, "expires_in": lifetime}
        return web.json_response(body)

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        ends = self._tokens.get(token) if scheme == "Bearer" else None
        return ends is not None and self.clock() < ends

    async def _locations(self, request: web.Request) -> web.Response:
        if (fault := self._fault(request)) is not None:
            return fault
        if not self._authorised(request):
            return web.json_response({"error": "invalid_token"}, status=401)
        found = [{"serviceLocationId": i, "name": n, "serviceLocationUuid": f"uuid-{i}"}
                 for i, n in self.locations.items()]  # fmt: skip
        return web.json_response({"appName": "wattbus", "serviceLocations": found})

    async def _consumption(self, request: web.Request) -> web.Response:
        if (fault := self._fault(request)) is not None:
            return fault
        if not self._authorised(request):
            return web.json_response({"error": "invalid_token"}, status=401)
        try:
            location = int(request.match_info["id"])
            aggregation = int(request.query["aggregation"])
            start = datetime.fromtimestamp(int(request.query["from"]) / 1000, UTC)
            end = datetime.fromtimestamp(int(request.query["to"]) / 1000, UTC)
        except (KeyError, ValueError):
            return web.json_response({"error": "bad request"}, status=400)
        if location not in self.locations:
            return web.json_response({"error": "not found"}, status=404)
        if aggregation != 1:  # only the 5-minute blocks are modelled
            return web.json_response({"error": "aggregation not modelled"}, status=400)
        shown_until = self.clock() - self.delay  # a block shows once its end is before this
        seconds = BLOCK.total_seconds()
        t = datetime.fromtimestamp(-(-start.timestamp() // seconds) * seconds, UTC)
        out = []
        while t < end and t + BLOCK <= shown_until:
            out.append(self.block(t))
            t += BLOCK
        return web.json_response({"serviceLocationId": location, "consumptions": out})
