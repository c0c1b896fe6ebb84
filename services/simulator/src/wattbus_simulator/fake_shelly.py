"""A fake Shelly Pro 3EM that answers over HTTP as the real device does (see
docs/devices/shelly-pro-3em.md).

Gen2 firmware is built on the Mongoose OS RPC HTTP channel, and the fake follows that channel:
- `GET /rpc/<Method>?id=0` and `POST /rpc/<Method>` answer the bare result object; an RPC error
  answers the bare error object `{"code", "message"}` with HTTP 404 when the code is 404, else 500.
- `POST /rpc` with a request frame answers the whole response frame, always HTTP 200.
- A missing or wrong digest answer gets 401, an empty body and `Connection: close`. A nonce is
  good for an hour and may be reused with a growing `nc`, as firmware 2.0.0+ documents.
Method names match exactly, as Mongoose's dispatcher does; a client must not rely on more.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from wattbus_simulator.digest import parse_digest
from wattbus_simulator.http_fake import HttpFake

MODEL = "SPEM-003CEBEU"
APP = "Pro3EM"
VER = "1.1.0"
FW_ID = "20231219-134001/1.1.0-g34b5d4f"
AUTH_USER = "admin"  # the device knows no other user
NONCE_LIFETIME = 3600.0  # s, as firmware 2.0.0+ documents

JSON_HEADERS = {"Access-Control-Allow-Origin": "*"}

Json = dict[str, Any]


@dataclass
class ShellyPhase:
    """One phase as the meter measures it; current and apparent power are derived, not stored."""

    act_power: float = 0.0  # W, negative = returned to the grid
    voltage: float = 230.0  # V
    pf: float = 1.0
    freq: float = 50.0  # Hz
    total_act_energy: float = 0.0  # Wh imported
    total_act_ret_energy: float = 0.0  # Wh returned

    @property
    def current(self) -> float:
        """A, unsigned as on the device: the direction is only in the power's sign."""
        denominator = self.voltage * abs(self.pf)
        return abs(self.act_power) / denominator if denominator else 0.0

    @property
    def aprt_power(self) -> float:
        return self.voltage * self.current


def _three_phases() -> list[ShellyPhase]:
    return [ShellyPhase() for _ in range(3)]


@dataclass
class ShellyPro3EMState:
    """What the simulated household sets; the fake reads it afresh for every answer."""

    device_id: str = "shellypro3em-a8032ab1c2d3"
    mac: str = "A8032AB1C2D3"
    phases: list[ShellyPhase] = field(default_factory=_three_phases)
    name: str | None = None
    errors: list[str] = field(default_factory=list)  # e.g. ["no_load"]; absent when empty

    def __post_init__(self) -> None:
        if len(self.phases) != 3:
            raise ValueError(f"a Pro 3EM has 3 phases, got {len(self.phases)}")

    def add_energy(self, seconds: float) -> None:
        """Integrate each phase's present power over `seconds` into its import or export counter."""
        for phase in self.phases:
            wh = abs(phase.act_power) * seconds / 3600.0
            if phase.act_power >= 0:
                phase.total_act_energy += wh
            else:
                phase.total_act_ret_energy += wh


@dataclass
class Faults:
    """Misbehaviour for tests; the fake reads these on every request, so tests flip them live."""

    status_500: bool = False
    delay: float = 0.0  # s before answering (ends early when the fake closes)
    malformed_json: bool = False  # 200 with a truncated JSON body
    drop_connection: bool = False  # close the socket without answering


async def apply_faults(
    faults: Faults, request: web.Request, closing: asyncio.Event
) -> web.StreamResponse | None:
    """The answer a switched-on fault gives instead of the real one; None when none applies."""
    if faults.delay > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), faults.delay)
    if faults.drop_connection:
        if request.transport is not None:
            request.transport.abort()
        return web.Response()  # never sent: the socket is gone
    if faults.status_500:
        body = b'{"code":-114,"message":"Unavailable"}'
        return web.Response(body=body, status=500, content_type="application/json")
    return None


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def device_info(state: ShellyPro3EMState, *, auth_en: bool) -> Json:
    return {
        "name": state.name,
        "id": state.device_id,
        "mac": state.mac,
        "slot": 0,
        "model": MODEL,
        "gen": 2,
        "fw_id": FW_ID,
        "ver": VER,
        "app": APP,
        "auth_en": auth_en,
        "auth_domain": None,
        "profile": "triphase",
    }


def em_status(state: ShellyPro3EMState) -> Json:
    status: Json = {"id": 0}
    for prefix, phase in zip("abc", state.phases, strict=True):
        status |= {
            f"{prefix}_current": _num(phase.current, 3),
            f"{prefix}_voltage": _num(phase.voltage, 1),
            f"{prefix}_act_power": _num(phase.act_power, 1),
            f"{prefix}_aprt_power": _num(phase.aprt_power, 1),
            f"{prefix}_pf": _num(phase.pf, 2),
            f"{prefix}_freq": _num(phase.freq, 1),
        }
    status |= {
        "n_current": None,
        "total_current": _num(sum(p.current for p in state.phases), 3),
        "total_act_power": _num(sum(p.act_power for p in state.phases), 3),
        "total_aprt_power": _num(sum(p.aprt_power for p in state.phases), 3),
        "user_calibrated_phase": [],
    }
    if state.errors:
        status["errors"] = list(state.errors)
    return status


def emdata_status(state: ShellyPro3EMState) -> Json:
    status: Json = {"id": 0}
    for prefix, phase in zip("abc", state.phases, strict=True):
        status[f"{prefix}_total_act_energy"] = _num(phase.total_act_energy, 2)
        status[f"{prefix}_total_act_ret_energy"] = _num(phase.total_act_ret_energy, 2)
    status["total_act"] = _num(sum(p.total_act_energy for p in state.phases), 2)
    status["total_act_ret"] = _num(sum(p.total_act_ret_energy for p in state.phases), 2)
    return status


def _num(value: float, digits: int) -> float:
    """The precision of the device's answers, as a float (the 1.1.0 sample sends 50.0, 0.0)."""
    return round(float(value), digits)


def _component_id(params: Json) -> None:
    """The Pro 3EM in triphase profile has one EM and one EMData component: id 0."""
    if "id" not in params:
        raise RpcError(-103, "Missing required 'id'")
    if params["id"] != 0:
        raise RpcError(-105, f"Argument 'id', value {params['id']} not found!")


class FakeShelly(HttpFake):
    """The server: see `start_fake_shelly`."""

    def __init__(self, state: ShellyPro3EMState, *, password: str | None = None) -> None:
        super().__init__()
        self.state = state
        self.faults = Faults()
        self.requests = 0  # HTTP requests received on /shelly and /rpc, 401 challenges included
        self.calls: Counter[str] = Counter()  # RPC methods answered with a result
        self._password = password
        self._methods: dict[str, Callable[[Json], Json]] = {
            "Shelly.GetDeviceInfo": self._get_device_info,
            "EM.GetStatus": self._em_get_status,
            "EMData.GetStatus": self._emdata_get_status,
        }
        self._open_methods = {"Shelly.GetDeviceInfo"}  # unauthenticated even with a password

    @property
    def auth_en(self) -> bool:
        return self._password is not None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/shelly", self._on_shelly)
        app.router.add_post("/rpc", self._on_frame)
        app.router.add_route("GET", "/rpc/{method}", self._on_rest)
        app.router.add_route("POST", "/rpc/{method}", self._on_rest)

    # --- HTTP forms -------------------------------------------------------------------------

    async def _on_shelly(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._misbehave(request)) is not None:
            return early
        return self._json(device_info(self.state, auth_en=self.auth_en))

    async def _on_rest(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._misbehave(request)) is not None:
            return early
        method = request.match_info["method"]
        if request.method == "GET":
            params: Json = {k: _query_value(v) for k, v in request.query.items()}
        else:
            body = await request.read()
            try:
                params = json.loads(body) if body.strip() else {}
            except ValueError:
                return self._json({"code": -103, "message": "Invalid JSON"}, status=500)
        if not self._authorized(request, method):
            return self._challenge()
        try:
            return self._json(self._call(method, params))
        except RpcError as err:
            status = err.code if err.code in (403, 404) else 500
            return self._json({"code": err.code, "message": err.message}, status=status)

    async def _on_frame(self, request: web.Request) -> web.StreamResponse:
        if (early := await self._misbehave(request)) is not None:
            return early
        try:
            frame = json.loads(await request.read())
            method = str(frame["method"])
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="Invalid request")
        if not self._authorized(request, method):
            return self._challenge()
        answer: Json = {"id": frame.get("id"), "src": self.state.device_id}
        if "src" in frame:
            answer["dst"] = frame["src"]
        try:
            answer["result"] = self._call(method, frame.get("params") or {})
        except RpcError as err:
            answer["error"] = {"code": err.code, "message": err.message}
        return self._json(answer)

    def _get_device_info(self, params: Json) -> Json:
        return device_info(self.state, auth_en=self.auth_en)

    def _em_get_status(self, params: Json) -> Json:
        _component_id(params)
        return em_status(self.state)

    def _emdata_get_status(self, params: Json) -> Json:
        _component_id(params)
        return emdata_status(self.state)

    def _call(self, method: str, params: Any) -> Json:
        handler = self._methods.get(method)
        if handler is None:
            raise RpcError(404, f"No handler for {method}")
        if not isinstance(params, dict):
            raise RpcError(-103, "Invalid argument 'params': not an object")
        result = handler(params)
        self.calls[method] += 1
        return result

    # --- faults and framing -----------------------------------------------------------------

    async def _misbehave(self, request: web.Request) -> web.StreamResponse | None:
        """Count the request and apply the faults a test switched on; None means answer normally."""
        self.requests += 1
        return await apply_faults(self.faults, request, self._closing)

    def _json(self, body: Json, *, status: int = 200) -> web.Response:
        data = json.dumps(body, separators=(",", ":")).encode()
        if self.faults.malformed_json and status == 200:
            data = data[: len(data) // 2]
        return web.Response(
            body=data, status=status, content_type="application/json", headers=JSON_HEADERS
        )

    # --- digest authentication (RFC 7616, SHA-256, qop=auth) ---------------------------------

    def _authorized(self, request: web.Request, method: str) -> bool:
        if self._password is None or method in self._open_methods:
            return True
        fields = parse_digest(request.headers.get("Authorization", ""))
        if fields is None:
            return False
        try:
            nonce_age = time.time() - int(fields["nonce"], 16)
            checks = (
                fields["username"] == AUTH_USER,
                fields["realm"] == self.state.device_id,
                fields["algorithm"].upper() == "SHA-256",
                fields["qop"] == "auth",
                fields["uri"] == request.raw_path,
                0 <= nonce_age <= NONCE_LIFETIME,
            )
            ha1 = _sha256(AUTH_USER, self.state.device_id, self._password)
            ha2 = _sha256(request.method, fields["uri"])
            expected = _sha256(ha1, fields["nonce"], fields["nc"], fields["cnonce"], "auth", ha2)
        except (KeyError, ValueError):
            return False
        return all(checks) and hmac.compare_digest(expected, fields["response"])

    def _challenge(self) -> web.Response:
        nonce = f"{int(time.time()):x}"
        challenge = (
            f'Digest qop="auth", realm="{self.state.device_id}", nonce="{nonce}", algorithm=SHA-256'
        )
        response = web.Response(
            status=401,
            content_type="application/json",
            headers=JSON_HEADERS | {"WWW-Authenticate": challenge},
        )
        response.force_close()
        return response


def _sha256(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


def _query_value(raw: str) -> Any:
    """The device reads each query value as JSON (`id=0` is the number 0), else as text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


async def start_fake_shelly(
    state: ShellyPro3EMState,
    *,
    password: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> FakeShelly:
    """Serve `state` on `host:port` (0 = any free port); with a password, RPC needs digest auth."""
    fake = FakeShelly(state, password=password)
    await fake.start(host, port)
    return fake
