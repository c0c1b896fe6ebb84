"""A fake Tapo smart plug (a P110, or a P100 without its meter) on KLAP over HTTP
(docs/devices/kasa.md; the login and encryption in `klap.py`): `POST /app/handshake1` and
`/app/handshake2`, then `POST /app/request?seq=N`, each with the `TP_SESSIONID` cookie that
handshake1 set (with `TIMEOUT`, the session's life in seconds).

A request is SMART JSON, `{"method": ..., "params": ..., "request_time_milis": ...,
"terminal_uuid": ...}`, and its answer `{"error_code": 0, "result": {...}}`; a `set_` method
answers no result. `multipleRequest` carries `{"requests": [{"method", "params"}, ...]}` and
answers `{"responses": [{"method", "result", "error_code"}, ...]}`. A method the plug lacks
answers error code -1002, a bad parameter -1008.

It answers what python-kasa 0.12's `update()` asks of the components this plug lists in
`component_nego`: `get_device_info` (with `get_device_usage`, the `device` component's second
version), `get_connect_cloud_state`, `get_device_time`, `get_auto_update_info`,
`get_led_info`, `get_auto_off_config`, `get_protection_power` and `get_max_power`, and on a
P110 the meter's `get_energy_usage`, `get_current_power`, `get_emeter_data` and
`get_emeter_vgain_igain`. The relay switches with `set_device_info` `{"device_on": bool}`.

Where the real plug's answer is not known, the choice is written next to it. The load is a
small model: it draws `load` W while the relay is on, nothing while it is off.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from wattbus_simulator.http_fake import HttpFake
from wattbus_simulator.klap import SEED, BadSeal, Session, auth_hash, client_proof, plug_proof

COOKIE = "TP_SESSIONID"
SESSION_LIFE = 86_400  # s, the TIMEOUT handshake1 sets beside the cookie
UNKNOWN_METHOD = -1002
PARAMS_ERROR = -1008
REFUSAL = -1301  # DEVICE_ERROR in python-kasa's table: the code this fake refuses a write with
MAX_POWER = 3_680  # W the plug may switch (16 A at 230 V)

Json = dict[str, Any]


class MethodError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class TapoPlugState:
    """The plug, the account it was set up with, and its load; tests and the household edit
    it directly. Values written for this fake, not taken from any real plug."""

    model: str = "P110"
    specs: str = "EU"  # the region python-kasa shows after the model: P110(EU)
    alias: str = "Washing machine"
    mac: str = "3C-52-A1-40-50-60"  # as the plug writes it, with dashes
    hw_ver: str = "1.0"
    fw_ver: str = "1.3.1 Build 240621 Rel.162048"
    device_id: str = "80229A1B2C3D4E5F60718293A4B5C6D7E8F90A1B"
    username: str = "owner@example.com"
    password: str = "tapo-secret"
    meter: bool = True  # a P110; False: a P100, which lists no energy_monitoring
    relay: bool = True
    load: float = 1_850.0  # W the load draws while the relay is on
    voltage: float = 231.4  # V
    today: float = 2_316.0  # Wh since midnight
    month: float = 41_870.0  # Wh this month
    on_time: int = 3_127  # s since the relay last closed
    region: str = "Europe/London"
    time_diff: int = 0  # minutes from UTC, as the plug's time zone has it now

    @property
    def power(self) -> float:
        return self.load if self.relay else 0.0

    @property
    def current(self) -> float:
        return self.power / self.voltage if self.voltage else 0.0


@dataclass
class Faults:
    refuse: bool = False  # set_device_info answered with REFUSAL, the relay as it was
    drop_writes: bool = False  # set_device_info answered as done, the relay as it was
    delay: float = 0.0  # s before /app/request answers (ends early when the fake closes)
    methods: list[str] = field(default_factory=list)  # every SMART method asked, in order
    unknown: list[str] = field(default_factory=list)  # those this plug answered -1002
    writes: list[bool] = field(default_factory=list)  # the device_on values it was sent
    handshakes: int = 0  # handshake1s in all
    refused_logins: int = 0  # handshake2s whose proof did not match


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class FakeTapo(HttpFake):
    """The server: see `start_fake_tapo`."""

    def __init__(self, state: TapoPlugState, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.state = state
        self.faults = Faults()
        self.sessions: dict[str, Session] = {}
        self._clock = clock

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/app/handshake1", self._handshake1)
        app.router.add_post("/app/handshake2", self._handshake2)
        app.router.add_post("/app/request", self._request)

    def forget_sessions(self) -> None:
        """As a plug that rebooted: every client must log in again."""
        self.sessions.clear()

    async def _handshake1(self, request: web.Request) -> web.Response:
        client_seed = await request.read()
        if len(client_seed) != SEED:
            return web.Response(status=400)  # chosen here: what a real plug answers is not known
        self.faults.handshakes += 1
        s = self.state
        session = Session(client_seed, secrets.token_bytes(SEED), auth_hash(s.username, s.password))
        session_id = secrets.token_hex(16).upper()
        self.sessions[session_id] = session
        body = session.plug_seed + plug_proof(client_seed, session.plug_seed, session.auth)
        cookie = f"{COOKIE}={session_id};TIMEOUT={SESSION_LIFE}"
        return web.Response(body=body, headers={"Set-Cookie": cookie})

    async def _handshake2(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.cookies.get(COOKIE, ""))
        if session is None:
            return web.Response(status=403)  # chosen here, as for a request without a login
        proof = await request.read()
        if proof != client_proof(session.client_seed, session.plug_seed, session.auth):
            self.faults.refused_logins += 1
            return web.Response(status=403)
        session.confirmed = True
        return web.Response()

    async def _request(self, request: web.Request) -> web.Response:
        session = self.sessions.get(request.cookies.get(COOKIE, ""))
        if session is None or not session.confirmed:
            return web.Response(status=403)  # python-kasa logs in again on a 403
        body = await request.read()
        if self.faults.delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.faults.delay)
        try:
            seq = int(request.query["seq"])
            smart = json.loads(session.open(seq, body))
        except (KeyError, ValueError, BadSeal):
            return web.Response(status=400)  # chosen here: not known from a real plug
        answer = self.answer(smart) if isinstance(smart, dict) else {"error_code": -1003}
        return web.Response(body=session.seal(seq, json.dumps(answer).encode()))

    def answer(self, request: Json) -> Json:
        method, params = request.get("method"), request.get("params")
        if method != "multipleRequest":
            return self._call(method, params)
        calls = params.get("requests") if isinstance(params, dict) else None
        if not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
            return {"error_code": PARAMS_ERROR}
        responses = [{"method": c.get("method"), **self._call(c.get("method"), c.get("params"))}
                     for c in calls]  # fmt: skip
        return {"error_code": 0, "result": {"responses": responses}}

    def _call(self, method: object, params: object) -> Json:
        name = method if isinstance(method, str) else repr(method)
        self.faults.methods.append(name)
        handler = self._methods().get(name)
        if handler is None:
            self.faults.unknown.append(name)
            return {"error_code": UNKNOWN_METHOD}
        try:
            result = handler(params)
        except MethodError as err:
            return {"error_code": err.code}
        return {"error_code": 0} if result is None else {"error_code": 0, "result": result}

    def _methods(self) -> dict[str, Callable[[object], Json | None]]:
        methods: dict[str, Callable[[object], Json | None]] = {
            "component_nego": lambda _: {"component_list": self._components()},
            "get_device_info": lambda _: self._device_info(),
            "get_device_usage": lambda _: self._usage(),
            "get_connect_cloud_state": lambda _: {"status": 0},
            "get_device_time": lambda _: self._time(),
            "get_auto_update_info": lambda _: {"enable": True, "time": 180, "random_range": 120},
            "get_led_info": lambda _: _LED,
            "get_auto_off_config": lambda _: {"enable": False, "delay_min": 120},
            "get_protection_power": lambda _: {"enabled": False, "protection_power": 0},
            "get_max_power": lambda _: {"max_power": MAX_POWER},
            "set_device_info": self._set_device_info,
        }
        if self.state.meter:
            methods |= {
                "get_energy_usage": lambda _: self._energy_usage(),
                "get_current_power": lambda _: {"current_power": round(self.state.power)},
                "get_emeter_data": lambda _: self._emeter_data(),
                "get_emeter_vgain_igain": lambda _: {"v_gain": 118_280, "i_gain": 11_150},
            }
        return methods

    def _components(self) -> list[Json]:
        versions = dict(_COMPONENTS)
        if self.state.meter:
            versions["energy_monitoring"] = 2
        return [{"id": name, "ver_code": version} for name, version in versions.items()]

    def _device_info(self) -> Json:
        s = self.state
        return {
            "device_id": s.device_id,
            "fw_ver": s.fw_ver,
            "hw_ver": s.hw_ver,
            "type": "SMART.TAPOPLUG",
            "model": s.model,
            "mac": s.mac,
            "hw_id": "A1B2C3D4E5F60718293A4B5C6D7E8F90",
            "fw_id": "00000000000000000000000000000000",
            "oem_id": "F0E1D2C3B4A5968778695A4B3C2D1E0F",
            "ip": self._host,
            "time_diff": s.time_diff,
            "ssid": _b64("wattbus-lab"),
            "rssi": -49,
            "signal_level": 3,
            "auto_off_status": "off",
            "auto_off_remain_time": 0,
            "longitude": 0,
            "latitude": 0,
            "lang": "en_GB",
            "avatar": "plug",
            "region": s.region,
            "specs": s.specs,
            "nickname": _b64(s.alias),
            "has_set_location_info": False,
            "device_on": s.relay,
            "on_time": s.on_time if s.relay else 0,
            "default_states": {"type": "last_states", "state": {}},
            "overheat_status": "normal",
            "power_protection_status": "normal",
            "overcurrent_status": "normal",
        }

    def _set_device_info(self, params: object) -> None:
        if not isinstance(params, dict) or params.keys() != {"device_on"}:
            raise MethodError(PARAMS_ERROR)  # only the relay is written here
        on = params["device_on"]
        if not isinstance(on, bool):
            raise MethodError(PARAMS_ERROR)
        self.faults.writes.append(on)
        if self.faults.refuse:
            raise MethodError(REFUSAL)
        if not self.faults.drop_writes:
            if on and not self.state.relay:
                self.state.on_time = 0
            self.state.relay = on

    def _local_now(self) -> datetime:
        return self._clock().astimezone(timezone(timedelta(minutes=self.state.time_diff)))

    def _time(self) -> Json:
        s = self.state
        return {"timestamp": int(self._clock().timestamp()), "time_diff": s.time_diff,
                "region": s.region}  # fmt: skip

    def _usage(self) -> Json:
        """Minutes on and Wh used: today, the past 7 and 30 days."""
        now = self._local_now()
        minutes = now.hour * 60 + now.minute
        used = {"today": round(self.state.today), "past7": 9_800, "past30": round(self.state.month)}
        return {
            "time_usage": {"today": minutes, "past7": minutes + 4_210, "past30": minutes + 17_940},
            "power_usage": used,
            "saved_power": {"today": 0, "past7": 0, "past30": 0},
        }

    def _energy_usage(self) -> Json:
        """Energy in Wh, runtime in minutes, the power in mW."""
        s, now = self.state, self._local_now()
        return {
            "today_runtime": now.hour * 60 + now.minute,
            "month_runtime": (now.day - 1) * 1_440 + now.hour * 60 + now.minute,
            "today_energy": round(s.today),
            "month_energy": round(s.month),
            "local_time": now.strftime("%Y-%m-%d %H:%M:%S"),
            "electricity_charge": [0, 0, 0],
            "current_power": round(s.power * 1000),
        }

    def _emeter_data(self) -> Json:
        """Integers in mV, mA, mW and Wh."""
        s = self.state
        return {"voltage_mv": round(s.voltage * 1000), "current_ma": round(s.current * 1000),
                "power_mw": round(s.power * 1000), "energy_wh": round(s.month)}  # fmt: skip


# what a P110 lists, with each one's version; only some are modules python-kasa reads
_COMPONENTS = {
    "device": 2, "firmware": 2, "quick_setup": 3, "inherit": 1, "time": 1, "wireless": 1,
    "schedule": 2, "countdown": 2, "antitheft": 1, "account": 1, "synchronize": 1,
    "sunrise_sunset": 1, "led": 1, "cloud_connect": 1, "iot_cloud": 1, "device_local_time": 1,
    "default_states": 1, "auto_off": 2, "localSmart": 1, "power_protection": 1,
    "current_protection": 1,
}  # fmt: skip

_LED = {"led_rule": "always", "led_status": True, "start_time": 1_320, "end_time": 420,
        "night_mode_type": "custom", "sunrise_offset": 0, "sunset_offset": 0}  # fmt: skip


async def start_fake_tapo(
    state: TapoPlugState,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> FakeTapo:
    """Serve `state` on `host:port` (0 = any free port)."""
    fake = FakeTapo(state, clock)
    await fake.start(host, port)
    return fake
