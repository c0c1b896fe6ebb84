"""A fake Gen1 Shelly 3EM: `GET /status` and `/emeter/<i>` behind HTTP Basic auth (docs/devices/).

It takes the same `ShellyPro3EMState` as the Gen2 fake, so the simulated household can drive
either meter. Only the metering part of `/status` is served; a real one has many more keys.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from aiohttp import web

from wattbus_simulator.http_fake import HttpFake

from .fake_shelly import (
    Faults,
    ShellyPhase,
    ShellyPro3EMState,
    apply_faults,
)

TYPE = "SHEM-3"
FW = "20230913-114244/v1.14.0-gcb84623"


def emeter(phase: ShellyPhase, *, valid: bool = True) -> dict[str, Any]:
    """Power signed (< 0 returned), current unsigned, energy counters in Wh."""
    return {
        "power": round(float(phase.act_power), 2),
        "pf": round(float(phase.pf), 2),
        "current": round(phase.current, 2),
        "voltage": round(float(phase.voltage), 2),
        "is_valid": valid,
        "total": round(float(phase.total_act_energy), 1),
        "total_returned": round(float(phase.total_act_ret_energy), 1),
    }


class FakeShelly3EMGen1(HttpFake):
    """The server: see `start_fake_shelly_gen1`. `requests` counts every HTTP request."""

    def __init__(
        self, state: ShellyPro3EMState, *, username: str = "admin", password: str | None = None
    ) -> None:
        super().__init__()
        self.state = state
        self.faults = Faults()
        self.requests = 0
        # Phases (0-2) sent with `is_valid: false`. What a real 3EM sends as values for such a
        # phase is not documented, so the fake goes on sending the simulated ones.
        self.invalid: set[int] = set()
        self.total_power = True  # False: firmware before 1.10.5, which sends no `total_power`
        self._credentials = None if password is None else f"{username}:{password}".encode()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/shelly", self._on_shelly)
        app.router.add_get("/status", self._on_status)
        app.router.add_get("/emeter/{index:[0-9]+}", self._on_emeter)

    async def _on_shelly(self, request: web.Request) -> web.StreamResponse:
        """Open even with auth on: clients probe it to tell Gen1 (no `gen` key) from Gen2."""
        if (early := await self._misbehave(request)) is not None:
            return early
        mac = self.state.mac
        return web.json_response(
            {
                "type": TYPE,
                "mac": mac,
                "auth": self._credentials is not None,
                "fw": FW,
                "longid": 1,
                "num_outputs": 1,
                "num_meters": 0,
                "num_emeters": 3,
            }
        )

    async def _on_status(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._misbehave(request, protected=True)) is not None:
            return early
        phases = self.state.phases
        status: dict[str, Any] = {
            "emeters": [emeter(p, valid=i not in self.invalid) for i, p in enumerate(phases)]
        }
        if self.total_power:
            status["total_power"] = round(float(sum(p.act_power for p in phases)), 2)
        return web.json_response(status)

    async def _on_emeter(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._misbehave(request, protected=True)) is not None:
            return early
        index = int(request.match_info["index"])
        if index >= len(self.state.phases):
            return web.Response(status=404, text="Not Found")
        return web.json_response(emeter(self.state.phases[index], valid=index not in self.invalid))

    async def _misbehave(
        self, request: web.Request, *, protected: bool = False
    ) -> web.StreamResponse | None:
        self.requests += 1
        answer = await apply_faults(self.faults, request, self._closing)
        if answer is None and protected and not self._authorized(request):
            answer = web.Response(
                status=401,
                text="401 Unauthorized",
                headers={"WWW-Authenticate": f'Basic realm="shellyem3-{self.state.mac}"'},
            )
        if answer is None and self.faults.malformed_json:
            answer = web.Response(text='{"emeters":[{"power":', content_type="application/json")
        return answer

    def _authorized(self, request: web.Request) -> bool:
        if self._credentials is None:
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            given = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return False
        return scheme.lower() == "basic" and hmac.compare_digest(given, self._credentials)


async def start_fake_shelly_gen1(
    state: ShellyPro3EMState,
    *,
    username: str = "admin",
    password: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> FakeShelly3EMGen1:
    """Serve `state` as a Gen1 3EM on `host:port` (0 = any free port), with Basic auth if asked."""
    fake = FakeShelly3EMGen1(state, username=username, password=password)
    await fake.start(host, port)
    return fake
