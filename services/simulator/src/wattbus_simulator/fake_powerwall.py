"""A Tesla Energy Gateway (Powerwall) answering its local HTTPS API the way pypowerwall's local
mode calls it (docs/devices/tesla-powerwall.md):

- https only, with a self-signed certificate made at start (the real gateway's is self-signed
  too, and pypowerwall does not verify it);
- `POST /api/login/Basic` (form data, or JSON) with the customer password gives the cookies
  `AuthCookie` and `UserRecord` and a bearer `token`; a wrong password is a 401;
- `GET /api/meters/aggregates`, `/api/operation`, `/api/site_info/site_name`,
  `/api/system_status/soe` and `/api/system_status/grid_status` need that login (401 without);
  `GET /api/status` does not, as on the real gateway;
- `POST /api/operation` takes `{"real_mode", "backup_reserve_percent"}`, the reserve on the raw
  scale (the app's 0 % is raw 5 %).

**Writes.** A real gateway answers a customer login's `POST /api/operation` with 403: local
writes work only in v1r LAN mode (Powerwall 3), which speaks signed protobuf on `/tedapi/v1r`,
and this fake does not. A fake made with `writes="accepted"` stands for a gateway that takes
local writes: it applies `/api/operation` from the customer login, so the bridge's write,
read-back and retry run against it. By default (`writes="refused"`) it answers 403, as the real
gateway does.

Percentages in the state are the gateway's raw ones. The battery follows its mode, reserve,
the load and the sun: in `self_consumption` (and `autonomous`) it covers the home while its
charge is above the reserve and stores any surplus; in `backup` it stores surplus and never
discharges while the grid is up. `advance(seconds)` moves its charge; tests and the demo call it.

Faults a test switches on: a wrong password (the state's `password` is not the client's),
`drop` (the next writes lose their mode or their reserve part, silently, as Tesla can),
`writes="refused"` (403), and `reboot()` (every login ends and the settings go back to the
ones the gateway boots with, dropping a hold).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wattbus_simulator.http_fake import HttpFake

MODES = ("self_consumption", "backup", "autonomous")
Part = Literal["real_mode", "backup_reserve_percent"]
CERT_DAYS = 2
Json = dict[str, Any]

UNAUTHORIZED: Json = {"code": 401, "error": "bad credentials", "message": "Login Error"}
NO_SESSION: Json = {
    "code": 401,
    "error": "token contains an invalid number of segments",
    "message": "Invalid bearer token",
}
FORBIDDEN: Json = {
    "code": 403,
    "error": "Unable to GET to resource",
    "message": "User does not have adequate access rights",
}


@dataclass
class PowerwallState:
    """What the fake gateway holds; tests and the household edit it directly."""

    soe: float = 62.0  # %, raw: 60 % in the app
    real_mode: str = "self_consumption"
    backup_reserve_percent: float = 24.0  # %, raw: 20 % in the app
    load: float = 1500.0  # W, the home
    solar: float = 0.0  # W
    capacity: float = 13_500.0  # Wh, one Powerwall 2
    max_power: float = 5_000.0  # W, charge or discharge
    grid_status: str = "SystemGridConnected"
    site_name: str = "My Home"
    din: str = "1232100-00-E--TG0123456789AB"
    version: str = "25.10.1 46ff1ad3"
    password: str = "ABCDE"  # the customer password: the gateway password's last five
    writes: Literal["accepted", "refused"] = "refused"
    drop: list[Part] = field(default_factory=list)  # one part lost per coming write
    posted: list[Json] = field(default_factory=list)  # every /api/operation body received
    logins: int = 0  # successful ones
    # what the gateway comes back with after a reboot
    boot_mode: str = "self_consumption"
    boot_reserve: float = 24.0

    def battery_power(self) -> float:
        """W, the gateway's sign: > 0 discharging."""
        surplus = self.solar - self.load
        if surplus > 0:
            return -min(surplus, self.max_power) if self.soe < 100 else 0.0
        if self.real_mode == "backup" or self.soe <= self.backup_reserve_percent:
            return 0.0
        return min(-surplus, self.max_power)

    def site_power(self) -> float:
        """W at the grid connection, > 0 import."""
        return self.load - self.solar - self.battery_power()

    def advance(self, seconds: float) -> None:
        """The battery's charge after `seconds` at the present power."""
        power = self.battery_power()
        soe = self.soe - power * seconds / 3600 / self.capacity * 100
        if power > 0:  # discharging stops at the reserve
            soe = max(soe, min(self.soe, self.backup_reserve_percent))
        self.soe = min(max(soe, 0.0), 100.0)

    def reboot(self) -> None:
        self.real_mode = self.boot_mode
        self.backup_reserve_percent = self.boot_reserve

    def operation(self) -> Json:
        return {
            "real_mode": self.real_mode,
            "backup_reserve_percent": self.backup_reserve_percent,
            "freq_shift_load_shed_soe": 0,
            "freq_shift_load_shed_delta_f": 0,
        }

    def set_operation(self, body: object) -> str | None:
        """Apply a write body; the reason it is refused, or None."""
        if not isinstance(body, dict):
            return "body must be a JSON object"
        mode, reserve = body.get("real_mode"), body.get("backup_reserve_percent")
        if mode not in MODES:
            return f"real_mode must be one of {', '.join(MODES)}"
        if isinstance(reserve, bool) or not isinstance(reserve, int | float):
            return "backup_reserve_percent must be a number"
        if not 0 <= reserve <= 100:
            return "backup_reserve_percent must be 0-100"
        dropped = self.drop.pop(0) if self.drop else None
        if dropped != "real_mode":
            self.real_mode = mode
        if dropped != "backup_reserve_percent":
            self.backup_reserve_percent = float(reserve)
        return None

    def aggregates(self) -> Json:
        now = datetime.datetime.now(datetime.UTC).isoformat()
        powers = {"site": self.site_power(), "battery": self.battery_power(),
                  "load": self.load, "solar": self.solar}  # fmt: skip
        return {name: _meter(now, power) for name, power in powers.items()}


def _meter(now: str, power: float) -> Json:
    """One meter of `/api/meters/aggregates`, with the fields a real gateway sends."""
    voltage = 240.0
    return {
        "last_communication_time": now,
        "instant_power": power,
        "instant_reactive_power": 0,
        "instant_apparent_power": abs(power),
        "frequency": 50.0,
        "energy_exported": 0.0,
        "energy_imported": 0.0,
        "instant_average_voltage": voltage,
        "instant_average_current": abs(power) / voltage,
        "i_a_current": 0,
        "i_b_current": 0,
        "i_c_current": 0,
        "last_phase_voltage_communication_time": "0001-01-01T00:00:00Z",
        "last_phase_power_communication_time": "0001-01-01T00:00:00Z",
        "timeout": 1500000000,
        "num_meters_aggregated": 1,
        "instant_total_current": abs(power) / voltage,
    }


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed(host: str) -> ssl.SSLContext:
    """A server context with a certificate for `host`, made now and good for two days."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake Tesla gateway")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName([_general_name(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as folder:  # ssl loads a chain only from files
        pem = Path(folder) / "gateway.pem"
        pem.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context.load_cert_chain(pem)
    return context


class FakePowerwall(HttpFake):
    """The server: see `start_fake_powerwall`."""

    def __init__(self, state: PowerwallState) -> None:
        super().__init__()
        self.state = state
        self.requests: list[str] = []  # "METHOD /path" of every request
        self._tokens: set[str] = set()

    @property
    def host_and_port(self) -> str:
        """What pypowerwall takes as `host`."""
        return self.url.removeprefix("https://")

    def reboot(self) -> None:
        """Every login ends, and the settings go back to the boot ones."""
        self._tokens.clear()
        self.state.reboot()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/login/Basic", self._login)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/meters/aggregates", self._guarded(self.state.aggregates))
        app.router.add_get("/api/operation", self._guarded(self.state.operation))
        app.router.add_get("/api/system_status/soe", self._guarded(self._soe))
        app.router.add_get("/api/system_status/grid_status", self._guarded(self._grid_status))
        app.router.add_get("/api/site_info/site_name", self._guarded(self._site_name))
        app.router.add_post("/api/operation", self._set_operation)

    async def _login(self, request: web.Request) -> web.Response:
        self.requests.append(f"POST {request.path}")
        form: Any
        if request.content_type == "application/json":
            try:
                form = await request.json()
            except ValueError:
                form = {}
        else:
            form = await request.post()
        if not isinstance(form, Mapping) or form.get("password") != self.state.password:
            return web.json_response(UNAUTHORIZED, status=401)
        token = secrets.token_urlsafe(32)
        self._tokens.add(token)
        self.state.logins += 1
        body = {
            "email": form.get("email", ""),
            "firstname": "Tesla",
            "lastname": "Energy",
            "roles": ["Home_Owner"],
            "token": token,
            "provider": "Basic",
            "loginTime": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        response = web.json_response(body)
        response.set_cookie("AuthCookie", token)
        response.set_cookie("UserRecord", secrets.token_urlsafe(16))
        return response

    def _logged_in(self, request: web.Request) -> bool:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return request.cookies.get("AuthCookie") in self._tokens or bearer in self._tokens

    def _guarded(self, answer: Any) -> Any:
        async def handler(request: web.Request) -> web.Response:
            self.requests.append(f"GET {request.path}")
            if not self._logged_in(request):
                return web.json_response(NO_SESSION, status=401)
            return web.json_response(answer())

        return handler

    async def _status(self, request: web.Request) -> web.Response:
        self.requests.append(f"GET {request.path}")
        s = self.state
        return web.json_response({
            "din": s.din, "start_time": "2026-11-30 06:12:41 +0000", "up_time_seconds": "33h1m",
            "is_new": False, "version": s.version, "git_hash": "46ff1ad3b7a6f2c1",
            "commission_count": 0, "device_type": "teg", "teg_type": "unknown",
            "sync_type": "v2.1", "cellular_disabled": False, "can_reboot": True,
        })  # fmt: skip

    def _soe(self) -> Json:
        return {"percentage": self.state.soe}

    def _grid_status(self) -> Json:
        return {"grid_status": self.state.grid_status, "grid_services_active": False}

    def _site_name(self) -> Json:
        return {"site_name": self.state.site_name, "timezone": "Europe/London"}

    async def _set_operation(self, request: web.Request) -> web.Response:
        self.requests.append(f"POST {request.path}")
        if not self._logged_in(request):
            return web.json_response(NO_SESSION, status=401)
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.json_response({"code": 400, "error": "body is not JSON"}, status=400)
        self.state.posted.append(body)
        if self.state.writes == "refused":
            return web.json_response(FORBIDDEN, status=403)
        reason = self.state.set_operation(body)
        if reason is not None:
            return web.json_response({"code": 400, "error": reason}, status=400)
        return web.json_response(body)


async def start_fake_powerwall(
    state: PowerwallState, *, host: str = "127.0.0.1", port: int = 0
) -> FakePowerwall:
    """Serve `state` over https on `host:port` (0 = any free port)."""
    fake = FakePowerwall(state)
    await fake.start(host, port, tls=self_signed(host))
    return fake
