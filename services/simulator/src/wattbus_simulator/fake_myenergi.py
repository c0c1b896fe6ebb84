"""A fake myenergi cloud with one hub and one Zappi, answering as pymyenergi expects the real
servers to (docs/devices/myenergi-zappi.md).

- Every call needs HTTP digest auth (MD5, qop auth) with the hub's serial as user and its API
  key as password. A missing or wrong answer gets 401 with a fresh challenge, and no
  `X_MYENERGI-asn` header: that is how pymyenergi tells wrong credentials.
- Every authenticated answer carries `X_MYENERGI-asn`, naming the server that holds the hub.
  The director (`/cgi-jstatus-E`) is asked first; tests route every host here (the client's
  loopback transport) and the fake records the `Host` each request was meant for.
- `/cgi-jstatus-Z<serial>`, `/cgi-jstatus-*`, and
  `/cgi-zappi-mode-Z<serial>-<mode>-<cmd>-<kWh>-<HHMM>` for the mode and boosts.

The car is a small model: it plugs in, charges (C2) as the mode and the surplus allow, waits
(C1) in Eco+ without surplus, finishes (B2) when full. Where the real answer is unknown (the
director's body, an unknown serial), the choice made is written next to it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from wattbus_simulator.digest import parse_digest
from wattbus_simulator.http_fake import HttpFake

DIRECTOR = "director.myenergi.net"
ASN = "s18.myenergi.net"
ASN_HEADER = "X_MYENERGI-asn"
REALM = "MyEnergi Telemetry"
KWH = 3_600_000.0  # J

# zmo numbers, as pymyenergi's CHARGE_MODES lists them
FAST, ECO, ECO_PLUS, STOPPED = 1, 2, 3, 4
# the `<cmd>` of /cgi-zappi-mode-: 0 set the mode, 10 boost, 11 smart boost, 2 stop boosting
SET_MODE, BOOST, SMART_BOOST, STOP_BOOST = 0, 10, 11, 2
# sta numbers, as pymyenergi's STATES lists them
PAUSED, CHARGING, BOOSTING, COMPLETED = 1, 3, 4, 5

MODE_CALL = re.compile(r"/cgi-zappi-mode-Z(\d+)-(\d)-(\d+)-(\d+)-(\d{4})")
STATUS_CALL = re.compile(r"/cgi-jstatus-Z(\d+)")

Json = dict[str, Any]


@dataclass
class ZappiState:
    """The hub, the Zappi and the car; tests and the household edit it directly."""

    hub_serial: str = "21509692"
    api_key: str = "fake-api-key-0123456789"
    serial: int = 16123456
    firmware: str = "3562S5.140"
    hub_firmware: str = "3401S3.051"
    asn: str = ASN  # the server the director names: a test may move the hub
    mode: int = ECO_PLUS
    plugged: bool = False
    full: bool = False  # the car stopped asking for power
    fault: bool = False
    capacity: float | None = None  # kWh the car takes this session; None: no limit
    surplus: float = 0.0  # W of PV the house does not use
    max_power: float = 7360.0  # W: 32 A on one phase
    min_power: float = 1380.0  # W: 6 A, the least a car charges with
    voltage: float = 230.0
    phase_setting: str = "SINGLE_PHASE"
    charge_added: float = 0.0  # kWh this session
    boosting: bool = False
    boost_kwh: int = 0
    boost_from: float = 0.0  # charge_added when the boost started
    smart_boost: tuple[int, int, int] = (0, 0, 0)  # kWh, hour, minute

    def plug(self) -> None:
        """A car plugs in: a new session."""
        self.plugged, self.full, self.charge_added = True, False, 0.0

    def unplug(self) -> None:
        self.plugged = self.boosting = False

    @property
    def power(self) -> float:
        """W the car draws now."""
        if self.fault or not self.plugged or self.full or self.mode == STOPPED:
            return 0.0
        if self.mode == FAST or self.boosting:
            return self.max_power
        if self.mode == ECO:
            return min(max(self.min_power, self.surplus), self.max_power)
        return min(self.surplus, self.max_power) if self.surplus >= self.min_power else 0.0

    @property
    def plug_state(self) -> str:
        if self.fault:
            return "F"
        if not self.plugged:
            return "A"
        if self.full:
            return "B2"  # waiting for the EV: it asks for nothing more
        if self.mode == STOPPED:
            return "B1"
        return "C2" if self.power > 0 else "C1"

    def advance(self, seconds: float) -> None:
        """The car charges for `seconds`; a boost or the car's capacity may end on the way."""
        self.charge_added += self.power * seconds / KWH
        if self.boosting and self.charge_added - self.boost_from >= self.boost_kwh:
            self.boosting = False
        if self.capacity is not None and self.charge_added >= self.capacity:
            self.full, self.boosting = True, False

    def status(self) -> Json:
        """One Zappi as `/cgi-jstatus-Z<serial>` lists it (made-up values where the model has
        none: locks, priority, the grid CT)."""
        power = round(self.power)
        if self.boosting and power:
            sta = BOOSTING
        elif power:
            sta = CHARGING
        else:
            sta = COMPLETED if self.full else PAUSED
        data: Json = {
            "sno": self.serial,
            "fwv": self.firmware,
            "dat": "01-12-2026",
            "tim": "12:00:00",
            "pst": self.plug_state,
            "zmo": self.mode,
            "sta": sta,
            "che": round(self.charge_added, 2),
            "div": power,
            "gen": round(self.surplus),
            "grd": max(power - round(self.surplus), 0),
            "vol": round(self.voltage * 10),
            "frq": 50.0,
            "pha": 1,
            "phaseSetting": self.phase_setting,
            "pri": 1,
            "lck": 16,
            "mgl": 50,
            "pwm": 5300,
            "tbk": self.boost_kwh,
            "bsm": 1 if self.boosting else 0,
            "bss": 0,
            "bst": 0,
            "sbk": self.smart_boost[0],
            "sbh": self.smart_boost[1],
            "sbm": self.smart_boost[2],
            "ectt1": "Internal Load",
            "ectp1": power,
            "ectt2": "Grid",
            "ectp2": max(power - round(self.surplus), 0),
        }
        data |= {f"ectt{n}": "None" for n in range(3, 7)}
        return data

    def command(self, mode: int, cmd: int, kwh: int, hhmm: str) -> None:
        """`/cgi-zappi-mode-`: what the Zappi does with it. A boost outside Eco and Eco+ is
        ignored (the app offers none there; what the real one does is unknown)."""
        if cmd == SET_MODE and FAST <= mode <= STOPPED:
            self.mode = mode
            if mode not in (ECO, ECO_PLUS):
                self.boosting = False
        elif cmd == BOOST and self.mode in (ECO, ECO_PLUS):
            self.boosting, self.boost_kwh, self.boost_from = True, kwh, self.charge_added
        elif cmd == SMART_BOOST:
            self.smart_boost = (kwh, int(hhmm[:2]), int(hhmm[2:]))
        elif cmd == STOP_BOOST:
            self.boosting = False


@dataclass
class Faults:
    """Misbehaviour for tests; read on every request, so a test flips them live."""

    status_500: bool = False  # every authenticated call answers 500 (with the asn header)
    ignore_commands: bool = False  # mode and boost calls answer as taken and change nothing
    lag: int = 0  # status answers that still show the Zappi as it was before a command


@dataclass
class Request:
    host: str  # the server the client meant (its Host header)
    path: str
    authorized: bool


@dataclass
class _Stale:
    status: Json
    left: int


class FakeMyenergi(HttpFake):
    """The server: see `start_fake_myenergi`."""

    def __init__(self, state: ZappiState) -> None:
        super().__init__()
        self.state = state
        self.faults = Faults()
        self.requests: list[Request] = []
        self.commands: list[str] = []  # the mode calls' paths, in order
        self._nonces: set[str] = set()
        self._stale: _Stale | None = None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/{path:.*}", self._on_get)

    def hosts(self, path_start: str) -> list[str]:
        """The hosts the requests whose path starts so were meant for, authorized ones only."""
        return [r.host for r in self.requests if r.authorized and r.path.startswith(path_start)]

    async def _on_get(self, request: web.Request) -> web.Response:
        authorized = self._authorized(request)
        path = request.path
        self.requests.append(Request(request.host.split(":")[0], path, authorized))
        if not authorized:
            return self._challenge()
        if self.faults.status_500:
            return self._answer({"status": -1, "statustext": "server error"}, status=500)
        if path == "/cgi-jstatus-E":
            return self._answer({"eddi": []})  # the director's body: a hub without an Eddi
        if path == "/cgi-jstatus-*":
            groups = [{"eddi": []}, {"zappi": [self._status()]}, {"harvi": []}]
            return self._answer([*groups, {"asn": self.state.asn, "fwv": self.state.hub_firmware}])
        if match := STATUS_CALL.fullmatch(path):
            # another serial: an empty list (the real answer is unknown)
            mine = int(match[1]) == self.state.serial
            return self._answer({"zappi": [self._status()] if mine else []})
        if (match := MODE_CALL.fullmatch(path)) and int(match[1]) == self.state.serial:
            self.commands.append(path)
            if not self.faults.ignore_commands:
                before = self.state.status()
                self.state.command(int(match[2]), int(match[3]), int(match[4]), match[5])
                if self.faults.lag:
                    self._stale = _Stale(before, self.faults.lag)
            return self._answer({"status": 0, "statustext": ""})
        return self._answer({"status": -14, "statustext": "not found"}, status=404)

    def _status(self) -> Json:
        stale = self._stale
        if stale is not None and stale.left > 0:
            stale.left -= 1
            return stale.status
        self._stale = None
        return self.state.status()

    def _answer(self, body: object, *, status: int = 200) -> web.Response:
        return web.Response(
            text=json.dumps(body, separators=(",", ":")),
            status=status,
            content_type="application/json",
            headers={ASN_HEADER: self.state.asn},
        )

    # --- digest authentication (RFC 2617, MD5, qop=auth) -------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        fields = parse_digest(request.headers.get("Authorization", ""))
        if fields is None:
            return False
        try:
            ha1 = _md5(self.state.hub_serial, REALM, self.state.api_key)
            ha2 = _md5(request.method, fields["uri"])
            expected = _md5(ha1, fields["nonce"], fields["nc"], fields["cnonce"], "auth", ha2)
            checks = (
                fields["username"] == self.state.hub_serial,
                fields["realm"] == REALM,
                fields["nonce"] in self._nonces,
                fields["qop"] == "auth",
                fields["uri"] == request.raw_path,
            )
        except KeyError:
            return False
        return all(checks) and hmac.compare_digest(expected, fields["response"])

    def _challenge(self) -> web.Response:
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        challenge = f'Digest realm="{REALM}", qop="auth", algorithm="MD5", nonce="{nonce}"'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})


def _md5(*parts: str) -> str:
    return hashlib.md5(":".join(parts).encode()).hexdigest()


async def start_fake_myenergi(
    state: ZappiState, *, host: str = "127.0.0.1", port: int = 0
) -> FakeMyenergi:
    """Serve `state` on `host:port` (0 = any free port)."""
    fake = FakeMyenergi(state)
    await fake.start(host, port)
    return fake
