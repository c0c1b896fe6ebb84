"""The demo's sunny-then-cloudy day: the household behind the fakes (the sky, the car, the
meter's sign on the wire), and one run of the scenario with every real service on the demo's
own broker, watched as line mode prints it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from rich.console import Console
from wattbus_simulator.broker import local_broker
from wattbus_simulator.demo_solar import SolarView, run_services
from wattbus_simulator.demo_view import BrokerAccess, Line
from wattbus_simulator.fake_nrgkick import CHARGING, CONNECTED
from wattbus_simulator.fake_solaredge import FakeSolarEdge
from wattbus_simulator.solar_day import SUNRISE, Array, Clouds, Sky, TurningSky
from wattbus_simulator.solar_home import (
    PEAK,
    Script,
    SolarHousehold,
    of_day,
    solar_home,
    solar_household,
)
from wattbus_solaredge.client import SolarEdge
from wattbus_solaredge.registers import decode_meter, meter_start

NOON = of_day(time(12, 0))
WAIT = 45.0  # s for a line or state: generous on a loaded machine; each ends when it comes


def test_the_sky_is_clear_until_it_turns_then_broken() -> None:
    """Before `turns` the array gives its clear-sky output; after, shadows take most of it for
    minutes at a time, as `Clouds`' broken sky does."""
    turning = Array(PEAK, TurningSky(NOON, seed=3))
    clear = Array(PEAK, Clouds(Sky.CLEAR, seed=3))
    morning = range(int(SUNRISE) + 60, int(NOON), 60)
    assert all(turning.power(t) == clear.power(t) for t in morning)
    afternoon = [turning.power(t) / clear.power(t) for t in range(int(NOON), int(NOON) + 3600, 10)]
    assert min(afternoon) < 0.5
    assert max(afternoon) == pytest.approx(1.0)


def step(h: SolarHousehold, t: float, seconds: int) -> None:
    for s in range(seconds):
        h.step(t + s + 1, 1.0)


def test_the_pv_the_bridge_reads_is_the_arrays() -> None:
    """The StorEdge is DC-coupled: the inverter's DC intake is the PV less the battery's
    charging, so the battery's `pv_power` (intake + charging) is what the sky lets through."""
    h = solar_household(Script(battery_soc=50.0))
    t = of_day(time(11))
    step(h, t, 5)
    r, inv = h.last, h.inverter
    assert r is not None and r.battery > 0  # charging from the sun
    assert inv.dc_power + inv.battery_power == pytest.approx(r.pv)
    assert r.pv == pytest.approx(h.day.array.power(t + 5))


def test_the_car_takes_what_it_is_offered_on_its_phases_and_stops_when_full() -> None:
    h = solar_household(Script(arrives=time(10), car_wants=500.0))
    c = h.charger
    t = of_day(time(9, 59))
    step(h, t, 30)
    assert not c.plugged and c.drawn == 0
    t = of_day(time(10))
    c.current_set, c.phase_count = 10.0, 1
    step(h, t, 1)  # the car ramps up over a few seconds: the charger shows what it draws
    assert 0 < c.phase_currents()[0] < 10.0
    step(h, t + 1, 59)
    assert c.plugged and c.status == CHARGING
    assert c.phase_currents() == [pytest.approx(10.0, rel=0.01), 0.0, 0.0]
    assert h.last is not None and h.last.car == pytest.approx(10 * 230, rel=0.01)
    c.phase_count = 3
    step(h, t + 60, 60)
    assert c.phase_currents() == [pytest.approx(10.0, rel=0.01)] * 3
    assert h.last.car == pytest.approx(3 * 10 * 230, rel=0.01)
    c.current_set = 6.0  # read back before the household's next step: never more than set
    assert c.phase_currents() == [6.0] * 3
    c.charge_pause = 1
    step(h, t + 120, 60)
    assert c.drawn == 0 and h.last.car == 0
    c.charge_pause = 0
    step(h, t + 180, 600)  # 500 Wh at 6.9 kW: full within five minutes
    assert h.day.car.full and c.plugged
    assert c.drawn == 0 and c.status == CONNECTED
    assert c.session_energy == pytest.approx(500.0, abs=20.0)


async def test_the_meter_sends_export_positive_as_solaredge_does() -> None:
    """In the morning sun the home exports: the fake's meter register says > 0 (SolarEdge's
    sign), and the bridge's decoding says < 0 (wattbus's grid: import > 0)."""
    h = solar_household(Script(battery_soc=100.0))
    step(h, of_day(time(10)), 5)
    assert h.last is not None and h.last.grid < -1000
    async with FakeSolarEdge(h.inverter) as fake:
        await fake.start()
        client = SolarEdge("127.0.0.1", port=fake.port)
        try:
            words = await client.meter_registers(1)
        finally:
            await client.close()
    total = words[40206 - meter_start(1)]
    assert 0 < total < 0x8000  # int16 > 0
    state = decode_meter(words, datetime.now(UTC))
    assert state.power == pytest.approx(h.last.grid, abs=15)


class Seen:
    """What line mode prints and what the bus says, as it comes."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.new = asyncio.Condition()

    def show(self, line: Line | None) -> None:
        if line is not None:
            self.lines.append(line.text)
            asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self.new:
            self.new.notify_all()

    async def line(self, wanted: str, within: float = WAIT) -> str:
        async def found() -> str:
            async with self.new:
                while True:
                    for text in self.lines:
                        if wanted in text:
                            return text
                    await self.new.wait()

        try:
            return await asyncio.wait_for(found(), within)
        except TimeoutError:
            raise AssertionError(f"{wanted!r} not shown within {within} s: {self.lines}") from None


@contextlib.asynccontextmanager
async def running_day(
    tmp_path: Path, script: Script, speed: float
) -> AsyncIterator[tuple[Seen, SolarView]]:
    seen = Seen()
    # a week ahead: a state stamped by the wall clock, not the day's, is days old here, and
    # stale (the controller would take one from ahead of its clock for fresh)
    day = date.today() + timedelta(days=7)
    async with local_broker() as (port, kind), solar_home(speed, script, day) as home:
        view = SolarView(home, BrokerAccess("127.0.0.1", port, kind))
        task = asyncio.create_task(run_services(home, port, tmp_path, view, seen.show))
        try:
            yield seen, view
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # a service that failed before raises here


async def followed(port: int, currents: int, within: float = WAIT) -> list[float]:
    """The currents the charger showed while charging, each one the controller had ordered,
    until `currents` different ones were seen."""
    ordered: set[float] = set()
    shown: list[float] = []
    async with aiomqtt.Client("127.0.0.1", port) as c:
        await c.subscribe("wattbus/controller/state")
        await c.subscribe("wattbus/nrgkick/state")
        async with asyncio.timeout(within):
            async for m in c.messages:
                body: dict[str, Any] = json.loads(m.payload)
                if m.topic.matches("wattbus/controller/state"):
                    order = body.get("chargers", {}).get("nrgkick", {})
                    if order.get("action") == "charge":
                        ordered.add(order["current"])
                elif body.get("charging") and body.get("current") in ordered:
                    if body["current"] not in shown:
                        shown.append(body["current"])
                    if len(shown) >= currents:
                        return shown
    raise AssertionError("unreachable")


@pytest.mark.timeout(90)
async def test_a_sunny_then_cloudy_day_tracks_the_sun_and_switches_the_rod(
    tmp_path: Path,
) -> None:
    """From 09:50 at x60: the rod takes the morning's export, the car plugged in at 10:00 is
    started by the controller and its current follows the surplus, the sky broken at 10:15
    is judged cloudy, and the strategy line the broker panel shows works as printed."""
    script = Script(start=time(9, 50), arrives=time(10), turns=time(10, 15))
    async with running_day(tmp_path, script, speed=60) as (seen, view):
        rod = await seen.line("decision: kasa on: surplus")
        assert "kasa applied: the plug shows on" in await seen.line("kasa applied")
        await seen.line("kasa: on, 2000 W")
        started = await seen.line("decision: nrgkick charge on 3 phases (tracked)")
        assert seen.lines.index(rod) < seen.lines.index(started)
        assert len(await followed(view.access.port, currents=2)) == 2
        await seen.line("nrgkick: charging")
        await seen.line("sky: cloudy")
        line = next(t for t in view.access_lines() if t.startswith("strategy: "))
        pub = await asyncio.create_subprocess_shell(line.removeprefix("strategy: "))
        assert await asyncio.wait_for(pub.wait(), WAIT) == 0
        await seen.line("(fast): fast: the most current: 16 A")


async def test_the_live_view_shows_the_day_and_how_to_change_the_strategy() -> None:
    async with solar_home(60.0) as home:
        view = SolarView(home, BrokerAccess("127.0.0.1", 1883, "mosquitto"))
        for topic, body in [
            ("solaredge-battery", {"soc": 91.2, "power": -1200.0, "pv_power": 6400.0}),
            ("solaredge-inverter", {"power": 7600.0}),
            ("solaredge-meter", {"power": 350.0}),
            ("nrgkick", {"plugged": True, "charging": True, "current": 7.0, "phases": 3,
                         "power": 4830.0, "session_energy": 3100.0, "mode": "normal"}),
            ("kasa", {"on": False, "power": 0.0}),
            ("controller", {"surplus": 4312.0, "cloudy": True, "plugs": {
                "kasa": {"on": False, "reason": "surplus 0 W < 2000 W"}}, "chargers": {
                "nrgkick": {"action": "charge", "current": 7.0, "phases": 3,
                            "strategy": "tracked", "reason": "tracked: surplus 4952 W: 7 A"}}}),
        ]:  # fmt: skip
            view.take(f"wattbus/{topic}/state", json.dumps(body).encode())
        view.take("wattbus/kasa/availability", b"online")
        console = Console(file=io.StringIO(), width=200, record=True)
        console.print(view.render())
    screen = console.export_text()
    assert "6400 W  inverter AC   7600 W  sky judged cloudy" in screen
    assert "91 %   -1200 W (> 0 charging)" in screen
    assert "4312 W for the car" in screen
    assert "charging 7.0 A on 3 phases, 4830 W, car has 3.1 kWh" in screen
    assert "charge on 3 phases (tracked): tracked: surplus 4952 W: 7 A" in screen
    assert "off, 0 W  [online]" in screen
    assert "off: surplus 0 W < 2000 W" in screen
    assert "mosquitto_pub -h 127.0.0.1 -p 1883 -t wattbus/controller/set/strategy -m fast" in screen
