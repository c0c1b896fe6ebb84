"""A fake NRGKICK answering both of its HTTP APIs (docs/devices/nrgkick.md), on one state:

- the Gen2's local JSON API: `GET /info`, `GET /values` and `GET /control` with section flags
  (`raw` gives enums as numbers, as the documentation says; without it, words), and the
  settings as query parameters on `/control`. A write echoes its key; a refusal answers
  `{"Response": "<message>"}` with HTTP 200. With a login set, BasicAuth is checked and a
  wrong or missing one gets 401.
- the Connect box of an older NRGKICK: `GET /api/measurements/<mac>` (kW, kWh; the
  `{"Message": ...}` body when no charger is in reach), `GET /api/settings/<mac>` and `PUT`
  of the settings with the password. Where the real Connect's answer is not known (a wrong
  password, a PUT's reply body), the choice is written next to it: a wrong password is
  ignored without a word, and a PUT answers the settings as they now are.

The car is a small model: it draws the set current on its phases while plugged, allowed and
not paused, unless a household sets what it takes (`car_current`: a car that ramps, or is
full and takes nothing, which the charger shows as connected, not charging).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from wattbus_simulator.http_fake import HttpFake

STANDBY, CONNECTED, CHARGING, ERROR = 1, 2, 3, 6
STATUS_WORDS = {0: "UNKNOWN", 1: "STANDBY", 2: "CONNECTED", 3: "CHARGING", 6: "ERROR", 7: "WAKEUP"}
MIN_CURRENT = 6.0
NO_CONTENT = {"Message": "No content found for this request"}
SOLAR_BLOCK = "Phase count change is blocked by solar-charging"
SWITCH_OFF = "Phase count change is not enabled"  # wording chosen here: not documented
OUT_OF_RANGE = "Value out of range"  # wording chosen here: not documented

Json = dict[str, Any]


@dataclass
class NrgkickState:
    """The charger and the car; tests and the household edit it directly."""

    serial: str = "NRG2-0012345"
    firmware: str = "4.1.2"
    mac: str = "AA:BB:CC:DD:EE:FF"  # the Connect's charger
    connect_password: str = "0000"
    username: str | None = None  # BasicAuth of the JSON API; None: off
    password: str | None = None
    rated_current: float = 16.0
    connector_max: float = 16.0
    connector_phases: int = 3
    phase_switching: bool = True  # "enabled in the app"
    solar_charging: bool = False  # blocks a phase change, as the charger says
    current_set: float = 16.0
    charge_pause: int = 0
    energy_limit: int = 0
    phase_count: int = 3
    plugged: bool = False
    car_phases: int = 3  # the phases the car itself charges on
    car_current: float | None = None  # A a phase the car takes while allowed; None: the set one
    voltage: float = 230.0
    total_energy: float = 14187.0  # Wh
    session_energy: float = 0.0  # Wh
    error_code: int = 0
    in_reach: bool = True  # the Connect reaches the charger over Bluetooth

    @property
    def allowed(self) -> bool:
        return self.plugged and not self.charge_pause and self.error_code == 0

    @property
    def drawn(self) -> float:
        """A a phase the car draws now: never more than is set, even before a household has
        seen a lower setting."""
        if not self.allowed:
            return 0.0
        return (
            self.current_set
            if self.car_current is None
            else min(self.car_current, self.current_set)
        )

    @property
    def charging(self) -> bool:
        return self.drawn > 0

    @property
    def status(self) -> int:
        if self.error_code:
            return ERROR
        return CHARGING if self.charging else CONNECTED if self.plugged else STANDBY

    def phase_currents(self) -> list[float]:
        drawing = min(self.car_phases, self.phase_count) if self.charging else 0
        return [self.drawn if n < drawing else 0.0 for n in range(3)]

    @property
    def power(self) -> float:
        return round(sum(self.phase_currents()) * self.voltage, 1)


@dataclass
class Faults:
    status: int | None = None  # answer every request with this HTTP status
    not_json: bool = False
    # a write is answered as taken but the settings stay as they were (a write that is lost)
    lose_writes: bool = False
    writes: list[str] = field(default_factory=list)


class FakeNrgkick(HttpFake):
    """The server: see `start_fake_nrgkick`."""

    def __init__(self, state: NrgkickState) -> None:
        super().__init__()
        self.state = state
        self.faults = Faults()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/info", self._info)
        app.router.add_get("/values", self._values)
        app.router.add_get("/control", self._control)
        app.router.add_get("/api/measurements/{mac}", self._measurements)
        app.router.add_get("/api/settings/{mac}", self._settings)
        app.router.add_put("/api/settings/{mac}", self._put_settings)

    def _refuse(self, request: web.Request, *, basic: bool) -> web.Response | None:
        f = self.faults
        if f.status is not None:
            return web.Response(status=f.status, text="fault")
        if f.not_json:
            return web.Response(text="<html>busy</html>", content_type="text/html")
        if basic and self.state.username is not None and not self._logged_in(request):
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="NRGkick"'})
        return None

    def _logged_in(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        s = self.state
        return hmac.compare_digest(user, s.username or "") and hmac.compare_digest(
            password, s.password or ""
        )

    @staticmethod
    def _enum(request: web.Request, code: int, words: dict[int, str]) -> int | str:
        return code if "raw" in request.query else words.get(code, "UNKNOWN")

    @staticmethod
    def _sections(request: web.Request, body: Json) -> Json:
        """Only the sections asked for; all of them when none is named."""
        asked = [k for k in body if k in request.query]
        return {k: body[k] for k in asked} if asked else body

    async def _info(self, request: web.Request) -> web.Response:
        if refused := self._refuse(request, basic=True):
            return refused
        s = self.state
        body = {
            "general": {"serial_number": s.serial, "rated_current": s.rated_current},
            "connector": {"phase_count": s.connector_phases, "max_current": s.connector_max,
                          "type": self._enum(request, 3, {3: "TYPE2"}), "serial": s.serial},
            "grid": {"voltage": s.voltage, "frequency": 50.0, "phases": 7},
            "versions": {"sw_sm": s.firmware},
        }  # fmt: skip
        return web.json_response(self._sections(request, body))

    async def _values(self, request: web.Request) -> web.Response:
        if refused := self._refuse(request, basic=True):
            return refused
        s = self.state
        currents = s.phase_currents()
        phases = {
            f"l{n + 1}": {"voltage": s.voltage, "current": a,
                          "active_power": round(a * s.voltage, 1), "reactive_power": 0,
                          "apparent_power": round(a * s.voltage, 1), "power_factor": 1 if a else 0}
            for n, a in enumerate(currents)
        }  # fmt: skip
        body = {
            "energy": {"total_charged_energy": s.total_energy, "charged_energy": s.session_energy},
            "powerflow": {"charging_voltage": s.voltage, "charging_current": max(currents),
                          "grid_frequency": 50.0, "peak_power": s.power,
                          "total_active_power": s.power, **phases, "n": {"current": 0}},
            "general": {"status": self._enum(request, s.status, STATUS_WORDS),
                        "charge_permitted": int(not s.charge_pause),
                        "error_code": s.error_code if "raw" in request.query
                        else ("NO_ERROR" if not s.error_code else f"ERROR_{s.error_code}")},
        }  # fmt: skip
        return web.json_response(self._sections(request, body))

    async def _control(self, request: web.Request) -> web.Response:
        if refused := self._refuse(request, basic=True):
            return refused
        s = self.state
        q = request.query
        writes = {k: q[k] for k in ("current_set", "charge_pause", "energy_limit", "phase_count")
                  if k in q}  # fmt: skip
        if not writes:
            return web.json_response({"current_set": s.current_set, "charge_pause": s.charge_pause,
                                      "energy_limit": s.energy_limit,
                                      "phase_count": s.phase_count})  # fmt: skip
        answer: Json = {}
        for key, text in writes.items():
            self.faults.writes.append(f"{key}={text}")
            before = getattr(s, key)
            error = self._write(key, text)
            if error:
                return web.json_response({"Response": error})
            answer[key] = getattr(s, key)
            if self.faults.lose_writes:
                setattr(s, key, before)
        return web.json_response(answer)

    def _write(self, key: str, text: str) -> str | None:
        s = self.state
        try:
            value = float(text)
        except ValueError:
            return OUT_OF_RANGE
        if key == "current_set":
            if not MIN_CURRENT <= value <= min(s.rated_current, s.connector_max):
                return OUT_OF_RANGE
            s.current_set = value
        elif key == "charge_pause":
            if value not in (0, 1):
                return OUT_OF_RANGE
            s.charge_pause = int(value)
        elif key == "energy_limit":
            s.energy_limit = int(value)
        else:
            if not s.phase_switching:
                return SWITCH_OFF
            if s.solar_charging:
                return SOLAR_BLOCK
            if value not in (1, 2, 3):
                return OUT_OF_RANGE
            s.phase_count = int(value)
        return None

    def _reach(self, request: web.Request) -> web.Response | None:
        if refused := self._refuse(request, basic=False):
            return refused
        if request.match_info["mac"].upper() != self.state.mac.upper():
            return web.json_response(NO_CONTENT)  # chosen here: unknown MAC as out of reach
        return None

    async def _measurements(self, request: web.Request) -> web.Response:
        if refused := self._reach(request):
            return refused
        s = self.state
        if not s.in_reach or not s.plugged:
            return web.json_response(NO_CONTENT)
        currents = s.phase_currents()
        return web.json_response({
            "ChargingEnergy": round(s.session_energy / 1000, 3),
            "ChargingEnergyOverAll": round(s.total_energy / 1000, 3),
            "ChargingPower": round(s.power / 1000, 3),
            "ChargingPowerPhase": [round(a * s.voltage / 1000, 3) for a in currents],
            "ChargingCurrentPhase": currents,
            "VoltagePhase": [s.voltage if n < s.connector_phases else 0 for n in range(3)],
            "Frequency": 50.0,
            "TemperatureMainUnit": 31.5,
            "Timestamp": 0,
        })  # fmt: skip

    def _settings_body(self) -> Json:
        s = self.state
        return {
            "Info": {"Connected": s.plugged, "ErrorCodes": [s.error_code]},
            "Values": {
                "ChargingStatus": {"Charging": not s.charge_pause},
                "ChargingCurrent": {"Value": s.current_set, "Min": MIN_CURRENT,
                                    "Max": s.rated_current},
            },
        }  # fmt: skip

    async def _settings(self, request: web.Request) -> web.Response:
        if refused := self._reach(request):
            return refused
        return web.json_response(self._settings_body())

    async def _put_settings(self, request: web.Request) -> web.Response:
        if refused := self._reach(request):
            return refused
        try:
            body = json.loads(await request.read())
            values = body["Values"]
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="bad request")
        s = self.state
        self.faults.writes.append(json.dumps(values, sort_keys=True))
        password = values.get("DeviceMetadata", {}).get("Password")
        if str(password) != s.connect_password or self.faults.lose_writes:
            return web.json_response(self._settings_body())  # ignored without a word
        charging = values.get("ChargingStatus", {}).get("Charging")
        if isinstance(charging, bool):
            s.charge_pause = int(not charging)
        amps = values.get("ChargingCurrent", {}).get("Value")
        if isinstance(amps, int | float) and MIN_CURRENT <= amps <= s.rated_current:
            s.current_set = float(amps)
        return web.json_response(self._settings_body())


async def start_fake_nrgkick(
    state: NrgkickState, *, host: str = "127.0.0.1", port: int = 0
) -> FakeNrgkick:
    """Serve `state` on `host:port` (0 = any free port)."""
    fake = FakeNrgkick(state)
    await fake.start(host, port)
    return fake
