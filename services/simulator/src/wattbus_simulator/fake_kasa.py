"""A fake Kasa smart plug (an HS110, or an HS100 without its meter) on the legacy protocol
(docs/devices/kasa.md): TCP, each message a 4-byte big-endian length and then JSON under an
autokey XOR that starts from key 171. A request names modules and methods,
`{"system": {"get_sysinfo": {}}, "emeter": {"get_realtime": {}}}`, and the answer carries
one result per method, each with its `err_code`; a module the plug lacks answers
`{"err_code": -1, "err_msg": "module not support"}` in place of its methods.

It answers what python-kasa 0.12's `update()` asks of a plug: `system.get_sysinfo`, then with
it `emeter` (`get_realtime`, `get_daystat`, `get_monthstat`), `schedule` (the rules, the next
action, and the same three statistics, which a plug keeps as `schedule` usage), `anti_theft`
(rules, next action), `time` (`get_time`, `get_timezone`) and `cnCloud.get_info`. The relay
switches with `system.set_relay_state`.

The load is a small model: it draws `load` W while the relay is on, nothing while it is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wattbus.closing import AsyncClosing

KEY = 171  # the autokey XOR's first key
LENGTH = struct.Struct(">I")
MAX_REQUEST = 65_536  # bytes: a plug's requests are a few hundred
NOT_A_MODULE = {"err_code": -1, "err_msg": "module not support"}
NOT_A_METHOD = {"err_code": -2, "err_msg": "member not support"}
UTC_INDEX = 38  # the legacy firmware's time-zone table: "UCT"

Json = dict[str, Any]
Method = Callable[[object], Json]  # a method's arguments, as the request had them


def encrypt(text: str) -> bytes:
    """Each byte XORed with the previous cipher byte (the first with 171), length first."""
    out, key = bytearray(), KEY
    for byte in text.encode():
        key ^= byte
        out.append(key)
    return LENGTH.pack(len(out)) + bytes(out)


def decrypt(body: bytes) -> str:
    out, key = bytearray(), KEY
    for byte in body:
        out.append(key ^ byte)
        key = byte
    return out.decode()


@dataclass
class KasaPlugState:
    """The plug and its load; tests and the household edit it directly. Values written for
    this fake, not taken from any real plug."""

    model: str = "HS110(EU)"
    alias: str = "Dehumidifier"
    mac: str = "5C:A6:E6:10:20:30"
    hw_ver: str = "4.0"
    sw_ver: str = "1.0.9 Build 230612 Rel.094417"
    device_id: str = "8006D5E1A0B2C3D4E5F60718293A4B5C6D7E8F90"
    meter: bool = True  # an HS110; False: an HS100, whose sysinfo has no "ENE" feature
    relay: bool = True
    load: float = 412.0  # W the load draws while the relay is on
    voltage: float = 229.6  # V
    total: float = 183_742.0  # Wh the meter has counted
    today: float = 1_264.0  # Wh since midnight
    on_time: int = 5_412  # s since the relay last closed

    @property
    def power(self) -> float:
        return self.load if self.relay else 0.0


@dataclass
class Faults:
    refuse: bool = False  # set_relay_state answered with an error, the relay as it was
    drop_writes: bool = False  # set_relay_state answered as done, the relay as it was
    garble: bool = False  # get_sysinfo answered without its relay_state, as no firmware should
    queries: list[Json] = field(default_factory=list)  # every request, decoded
    writes: list[int] = field(default_factory=list)  # the states set_relay_state was sent


REFUSAL = {"err_code": -3, "err_msg": "relay locked by the fake"}  # wording chosen here


class FakeKasa(AsyncClosing):
    """The server: see `start_fake_kasa`."""

    def __init__(self, state: KasaPlugState, clock: Callable[[], datetime] = datetime.now) -> None:
        self.state = state
        self.faults = Faults()
        self.port = 0
        self.connections = 0  # accepted in all: python-kasa keeps one open between polls
        self._clock = clock  # the plug's own (local) clock: its day statistics follow it
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and cut every client off, as a plug pulled from the wall does."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)  # each sees its EOF
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while True:
                (length,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
                if length > MAX_REQUEST:
                    break
                request = json.loads(decrypt(await reader.readexactly(length)))
                if not isinstance(request, dict):
                    break
                self.faults.queries.append(request)
                writer.write(encrypt(json.dumps(self.answer(request))))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass  # the client went away, or sent what no plug reads: the plug hangs up
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def answer(self, request: Json) -> Json:
        modules = self._modules()
        result: Json = {}
        for module, methods in request.items():
            if module not in modules or not isinstance(methods, dict):
                result[module] = dict(NOT_A_MODULE)
                continue
            handlers = modules[module]
            result[module] = {
                method: handlers[method](args) if method in handlers else dict(NOT_A_METHOD)
                for method, args in methods.items()
            }
        return result

    def _modules(self) -> dict[str, dict[str, Method]]:
        usage = {"get_daystat": self._daystat, "get_monthstat": self._monthstat}
        rules: dict[str, Method] = {"get_rules": _no_rules, "get_next_action": _no_action}
        modules: dict[str, dict[str, Method]] = {
            "system": {"get_sysinfo": self._sysinfo, "set_relay_state": self._set_relay},
            "schedule": {**rules, "get_daystat": _no_days, "get_monthstat": _no_months},
            "anti_theft": rules,
            "time": {"get_time": self._time, "get_timezone": _timezone},
            "cnCloud": {"get_info": _cloud},
        }
        if self.state.meter:
            modules["emeter"] = {"get_realtime": self._realtime, **usage}
        return modules

    def _sysinfo(self, _args: object) -> Json:
        info = self._full_sysinfo()
        if self.faults.garble:
            del info["relay_state"]
        return info

    def _full_sysinfo(self) -> Json:
        s = self.state
        return {
            "sw_ver": s.sw_ver,
            "hw_ver": s.hw_ver,
            "model": s.model,
            "deviceId": s.device_id,
            "oemId": "0F1E2D3C4B5A69788796A5B4C3D2E1F0",
            "hwId": "1F2E3D4C5B6A79889706A5B4C3D2E1F0",
            "rssi": -58,
            "latitude_i": 0,
            "longitude_i": 0,
            "alias": s.alias,
            "status": "new",
            "mic_type": "IOT.SMARTPLUGSWITCH",
            "feature": "TIM:ENE" if s.meter else "TIM",
            "mac": s.mac,
            "updating": 0,
            "led_off": 0,
            "relay_state": int(s.relay),
            "on_time": s.on_time if s.relay else 0,
            "icon_hash": "",
            "dev_name": f"Smart Wi-Fi Plug{' With Energy Monitoring' if s.meter else ''}",
            "active_mode": "none",
            "next_action": {"type": -1},
            "ntc_state": 0,
            "err_code": 0,
        }

    def _set_relay(self, args: object) -> Json:
        state = args.get("state") if isinstance(args, dict) else None
        if state not in (0, 1) or isinstance(state, bool):
            return {"err_code": -3, "err_msg": "invalid argument"}
        self.faults.writes.append(state)
        if self.faults.refuse:
            return dict(REFUSAL)
        if not self.faults.drop_writes:
            if state and not self.state.relay:
                self.state.on_time = 0
            self.state.relay = bool(state)
        return {"err_code": 0}

    def _realtime(self, _args: object) -> Json:
        """Integers in mW, mV, mA and Wh, as the hardware 2 and later firmware sends them."""
        s = self.state
        current = s.power / s.voltage if s.voltage else 0.0
        return {
            "voltage_mv": round(s.voltage * 1000),
            "current_ma": round(current * 1000),
            "power_mw": round(s.power * 1000),
            "total_wh": round(s.total),
            "err_code": 0,
        }

    def _daystat(self, args: object) -> Json:
        """This month's days; only today has a count here."""
        now = self._clock()
        year, month = _year_month(args, now)
        today = {"year": year, "month": month, "day": now.day, "energy_wh": round(self.state.today)}
        days = [today] if (year, month) == (now.year, now.month) else []
        return {"day_list": days, "err_code": 0}

    def _monthstat(self, args: object) -> Json:
        now = self._clock()
        year, _ = _year_month(args, now)
        months = [{"year": year, "month": now.month, "energy_wh": round(self.state.today)}]
        return {"month_list": months if year == now.year else [], "err_code": 0}

    def _time(self, _args: object) -> Json:
        now = self._clock()
        return {"year": now.year, "month": now.month, "mday": now.day, "hour": now.hour,
                "min": now.minute, "sec": now.second, "err_code": 0}  # fmt: skip

    def queried(self) -> Iterator[str]:
        """`module.method` of every query so far, in order (tests check what was asked)."""
        for request in self.faults.queries:
            for module, methods in request.items():
                for method in methods if isinstance(methods, dict) else ():
                    yield f"{module}.{method}"


def _year_month(args: object, now: datetime) -> tuple[int, int]:
    """The year and month asked for; what is not a whole number asks for the current one."""
    a = args if isinstance(args, dict) else {}
    year, month = a.get("year"), a.get("month")
    return (year if type(year) is int else now.year, month if type(month) is int else now.month)


def _no_rules(_args: object) -> Json:
    return {"rule_list": [], "enable": 0, "version": 2, "err_code": 0}


def _no_action(_args: object) -> Json:
    return {"type": -1, "err_code": 0}


def _no_days(_args: object) -> Json:
    return {"day_list": [], "err_code": 0}


def _no_months(_args: object) -> Json:
    return {"month_list": [], "err_code": 0}


def _timezone(_args: object) -> Json:
    return {"index": UTC_INDEX, "err_code": 0}


def _cloud(_args: object) -> Json:
    return {"username": "", "server": "", "binded": 0,
            "cld_connection": 0, "illegalType": 0, "tcspStatus": 0, "fwDlPage": "",
            "tcspInfo": "", "stopConnect": 0, "fwNotifyType": 0, "err_code": 0}  # fmt: skip


async def start_fake_kasa(
    state: KasaPlugState,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Callable[[], datetime] = datetime.now,
) -> FakeKasa:
    """Serve `state` on `host:port` (0 = any free port)."""
    fake = FakeKasa(state, clock)
    await fake.start(host, port)
    return fake
