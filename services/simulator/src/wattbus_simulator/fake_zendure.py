"""A Zendure SolarFlow answering zenSDK local HTTP the way docs/devices/zendure-solarflow.md
describes it.

Tests run the real client against it over loopback; the demo's household moves its numbers
each tick (`ZendureState.set_measurements`). Everything is in device units: W, tenths of a
percent for minSoc/socSet, 0.01 V, 0.1 K.

Where the device's answer is undocumented, the choice made here is written next to it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from wattbus.closing import AsyncClosing

REPORT_VERSION = 2
SMART_MODE_RAM = 1
SHUTDOWN_TIMEOUT = 1.0  # s, for handlers still running when the fake closes

# minSoc's documented range is 0-500 (0-50 %); some firmware takes up to 1000 (100 %).
MIN_SOC_DOCUMENTED_MAX = 500
MIN_SOC_MAX = 1000


def _default_properties() -> dict[str, int]:
    """A SolarFlow 2400 AC at rest: every field of a public `/properties/report` sample (a
    SolarFlow 800, in TimSoethout/home-assistant-zendure_local), with the 2400 AC's own limits."""
    return {
        "heatState": 0,
        "packInputPower": 0,
        "outputPackPower": 0,
        "outputHomePower": 0,
        "remainOutTime": 0,
        "packState": 0,
        "electricLevel": 60,
        "gridInputPower": 0,
        "solarInputPower": 0,
        "solarPower1": 0,
        "solarPower2": 0,
        "pass": 0,
        "reverseState": 0,
        "socStatus": 0,
        "hyperTmp": 2981,
        "dcStatus": 0,
        "pvStatus": 0,
        "acStatus": 1,
        "dataReady": 1,
        "gridState": 1,
        "BatVolt": 5120,
        "socLimit": 0,
        "writeRsp": 0,
        "acMode": 2,
        "inputLimit": 0,
        "outputLimit": 800,
        "socSet": 1000,
        "minSoc": 100,
        "gridStandard": 0,
        "gridReverse": 1,
        "inverseMaxPower": 2400,
        "lampSwitch": 1,
        "IOTState": 2,
        "factoryModeState": 0,
        "OTAState": 0,
        "LCNState": 0,
        "oldMode": 0,
        "VoltWakeup": 0,
        "ts": 0,
        "bindstate": 0,
        "tsZone": 14,
        "chargeMaxLimit": 2400,
        "smartMode": 1,
        "packNum": 1,
        "rssi": -62,
        "is_error": 0,
    }


def _default_packs() -> list[dict[str, int | str]]:
    return [
        {
            "sn": "FAKEPACK0000001",
            "packType": 70,
            "socLevel": 60,
            "state": 0,
            "power": 0,
            "maxTemp": 2981,
            "totalVol": 5120,
            "batcur": 0,
            "maxVol": 320,
            "minVol": 320,
            "softVersion": 4113,
            "heatState": 0,
        }
    ]


@dataclass
class ZendureState:
    """What the fake device holds. Tests and the household edit it directly."""

    sn: str = "FAKE2400AC00001"
    product: str = "solarFlow2400AC"
    properties: dict[str, int] = field(default_factory=_default_properties)
    packs: list[dict[str, int | str]] = field(default_factory=_default_packs)
    # minSoc above the documented 500 (50 %): some firmware applies it; other firmware may
    # answer 200 and keep the old value, or refuse the whole write with a 400 as it does any
    # out-of-range value. Which firmware does which is undocumented, so all three are here.
    min_soc_above_50: Literal["applied", "ignored", "refused"] = "applied"
    # Properties this firmware answers 200 to but does not apply (for "never assume" tests).
    ignored: set[str] = field(default_factory=set)
    rated_output: int = 2400  # W, the most inverseMaxPower may be set to
    flash_writes: int = 0  # applied writes that did not carry smartMode 1
    writes: list[dict[str, Any]] = field(default_factory=list)  # every write body received
    message_id: int = 0

    def set_measurements(
        self,
        *,
        soc: int,
        battery_power: int,
        home_power: int,
        solar_power: int = 0,
        grid_input_power: int = 0,
    ) -> None:
        """Set what the unit measures from wattbus signs (battery_power > 0 charging): the
        device reports charge and discharge as two positive fields, and a pack's current as
        an unsigned int16 in 0.1 A, negative while discharging."""
        p = self.properties
        state = 1 if battery_power > 0 else 2 if battery_power < 0 else 0
        p["electricLevel"] = soc
        p["outputPackPower"] = max(battery_power, 0)
        p["packInputPower"] = max(-battery_power, 0)
        p["packState"] = state
        p["outputHomePower"] = home_power
        p["solarInputPower"] = solar_power
        p["gridInputPower"] = grid_input_power
        for pack in self.packs:
            share = battery_power / max(len(self.packs), 1)
            volts = int(pack.get("totalVol", 5120)) / 100
            pack["socLevel"] = soc
            pack["state"] = state
            pack["power"] = round(abs(share))
            pack["batcur"] = round(share / volts * 10) & 0xFFFF

    def report(self) -> dict[str, Any]:
        """The `/properties/report` body; each call is a new message."""
        self.message_id += 1
        now = int(time.time())
        self.properties["ts"] = now
        return {
            "timestamp": now,
            "messageId": self.message_id,
            "sn": self.sn,
            "version": REPORT_VERSION,
            "product": self.product,
            "properties": dict(self.properties),
            "packData": [dict(pack) for pack in self.packs],
        }

    def allowed(self, name: str) -> tuple[int, int] | None:
        """The accepted range of a writable property; None for read-only or unknown ones.

        Ranges from en_properties.md / zh_properties.md; gridStandard and gridOffMode list
        only some codes (the sample shows gridStandard 4), so any small code is taken.
        """
        p = self.properties
        ranges: dict[str, tuple[int, int]] = {
            "acMode": (1, 2),
            "smartMode": (0, 1),
            "gridReverse": (0, 2),
            "gridStandard": (0, 255),
            "gridOffMode": (0, 255),
            "socSet": (700, 1000),
            "minSoc": (0, MIN_SOC_MAX),
            "outputLimit": (0, p.get("inverseMaxPower", self.rated_output)),
            "inputLimit": (0, p.get("chargeMaxLimit", self.rated_output)),
            "inverseMaxPower": (0, self.rated_output),
        }
        return ranges.get(name)

    def writable(self) -> dict[str, int]:
        """Every writable property the device reports, with its value: what a restore must
        leave as it found it."""
        return {k: v for k, v in self.properties.items() if self.allowed(k) is not None}

    def write(self, body: object) -> str | None:
        """Apply a write body; the reason it is refused, or None. All or nothing."""
        if not isinstance(body, dict):
            return "body must be a JSON object"
        self.writes.append(body)
        if body.get("sn") != self.sn:
            return "sn missing or not this device's"
        properties = body.get("properties")
        if not isinstance(properties, dict) or not properties:
            return "properties missing or empty"
        for name, value in properties.items():
            limits = self.allowed(name)
            if limits is None:
                return f"{name} is not a writable property"
            if isinstance(value, bool) or not isinstance(value, int):
                return f"{name} must be an integer"
            if not limits[0] <= value <= limits[1]:
                return f"{name} {value} out of range {limits[0]}-{limits[1]}"
            above_50 = name == "minSoc" and value > MIN_SOC_DOCUMENTED_MAX
            if above_50 and self.min_soc_above_50 == "refused":
                return f"{name} {value} out of range 0-{MIN_SOC_DOCUMENTED_MAX}"
        for name, value in properties.items():
            above_50 = name == "minSoc" and value > MIN_SOC_DOCUMENTED_MAX
            if name in self.ignored or (above_50 and self.min_soc_above_50 == "ignored"):
                continue
            self.properties[name] = value
        # smartMode=1 keeps a write in RAM. Whether a smartMode=1 stored earlier also covers
        # a later write that omits it is undocumented, and smartMode itself returns to its
        # flash value after a reboot; so a write counts as a flash write unless it carries
        # smartMode 1 itself (the case a client must not rely on).
        if properties.get("smartMode") != SMART_MODE_RAM:
            self.flash_writes += 1
        return None


@dataclass
class Faults:
    """Misbehaviour switched on by tests, applied to every request."""

    status_500: bool = False
    delay: float = 0.0  # s before answering (cut short when the fake closes)
    malformed_json: bool = False  # the report body is cut in half


class FakeZendure(AsyncClosing):
    """A running fake; `url` is what a client connects to."""

    def __init__(
        self,
        state: ZendureState,
        faults: Faults,
        runner: web.AppRunner,
        host: str,
        port: int,
        closing: asyncio.Event,
    ) -> None:
        self.state = state
        self.faults = faults
        self.host = host
        self.port = port
        self._runner = runner
        self._closing = closing
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        """Stop answering: clients then see "connection refused", as with a device gone."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        await self._runner.cleanup()


async def start_fake_zendure(
    state: ZendureState,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: Faults | None = None,
) -> FakeZendure:
    """Serve `state` on host:port (0 picks a free port). Pass the port and faults of a closed
    fake to bring "the same device" back after an outage."""
    faults = faults if faults is not None else Faults()
    closing = asyncio.Event()

    async def misbehave() -> web.Response | None:
        if faults.delay > 0:
            try:
                async with asyncio.timeout(faults.delay):
                    await closing.wait()
            except TimeoutError:
                pass
        if faults.status_500:
            return web.Response(status=500, text="internal error")
        return None

    async def report(_request: web.Request) -> web.Response:
        if (fault := await misbehave()) is not None:
            return fault
        text = json.dumps(state.report(), separators=(",", ":"))
        if faults.malformed_json:
            text = text[: len(text) // 2]
        return web.Response(text=text, content_type="application/json")

    async def write(request: web.Request) -> web.Response:
        if (fault := await misbehave()) is not None:
            return fault
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.Response(status=400, text="body is not JSON")
        # The OpenAPI documents 200 (written), 400 (invalid parameters or format) and 401,
        # with no body for any of them. A bad sn, an unknown or read-only property and an
        # out-of-range value are "invalid parameters": 400, with the reason as plain text
        # (the real body is unknown, so the client must not parse it). 401 is never sent:
        # no authentication scheme is documented. 200 comes with an empty body.
        reason = state.write(body)
        if reason is not None:
            return web.Response(status=400, text=reason)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_get("/properties/report", report)
    app.router.add_post("/properties/write", write)
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # same port after a restart
    try:
        sock.bind((host, port))
        await web.SockSite(runner, sock).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    return FakeZendure(state, faults, runner, host, sock.getsockname()[1], closing)
