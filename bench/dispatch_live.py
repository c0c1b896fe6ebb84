"""A window's planned start to the Powerwall held, through the real parts: a private Mosquitto,
the kraken, myenergi and powerwall bridges and the controller, each on its own bus connection,
with the fake Kraken, the fake myenergi cloud and the fake gateway (TLS) on loopback.

All of them run in the bench process on one clock (`BenchClock`): real speed, but set so that
a slot boundary comes shortly after the round starts. Every part is given that clock (the
kraken bridge's `Clock`, the others' `clock=`, the fake Kraken's), so the bridges' `ts`, the
controller's `now` and the fake's tokens agree. The round starts `LEAD` s (plus a random part,
which moves the boundary against the bridges' polls and the controller's tick) before the
boundary, not less: the kraken bridge makes no request in the 90 s before :00 or :30, and it
says `offline` until its first poll has answered, so it must start before that quiet stretch
to know the window at all. The window (smart, from the boundary, one hour) is on the fake's
list from the start, the car is already charging (the Zappi in C2), and the controller has
`guard_batteries=none`, so nothing but dispatch holds the battery.

Measured from the planned start: the kraken bridge's `TariffState` with the window active (it
publishes at the edge), (a) the controller's `{"hold": true}` on `wattbus/powerwall/set`,
(b) the fake gateway holding both halves (`real_mode` backup and the reserve at 100 %, stamped
by the fake as it applies the write), (c) the bridge's state with `hold: true`. Each round
then measures the floor: a bare broker hop (publish to delivery, another connection) and one
HTTPS round trip to the fake gateway (`GET /api/status` on a kept-alive connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
from timing import Msg, Tape, fmt, observer, percentile
from wattbus.bus import Bus
from wattbus.settings import BusSettings
from wattbus.stopping import run_together, stop
from wattbus.topics import CONTROLLER_ID
from wattbus_controller.service import Controller
from wattbus_controller.settings import ControllerSettings
from wattbus_kraken.service import KrakenBridge
from wattbus_kraken.settings import KrakenSettings
from wattbus_myenergi.service import make_bridge as zappi_bridge
from wattbus_myenergi.service import open_zappi
from wattbus_myenergi.settings import MyenergiSettings
from wattbus_powerwall.service import make_bridge as powerwall_bridge
from wattbus_powerwall.service import make_gateway
from wattbus_powerwall.settings import PowerwallSettings
from wattbus_simulator.broker import local_broker
from wattbus_simulator.fake_kraken import FakeDispatch, start_fake_kraken
from wattbus_simulator.fake_myenergi import FAST, ZappiState, start_fake_myenergi
from wattbus_simulator.fake_powerwall import PowerwallState, start_fake_powerwall

FIRST = datetime(2026, 1, 14, 17, 0, tzinfo=UTC)  # the first round's boundary; a winter evening
LEAD = 95.0  # s before the boundary a round starts, at the least
SPREAD = 15.0  # s more, at random: the boundary's phase against the polls and the tick
READY = 60.0  # s for every part to be up and to have read its device once
HELD_WITHIN = 30.0  # s after the boundary
FLOOR_SAMPLES = 20
ACCOUNT, KEY = "A-0000BE4C", "sk_live_bench"
POWERWALL_PASSWORD = "ABCDE"  # the fake gateway's default customer password
HOP = "bench/hop"


class BenchClock:
    """Real speed from `start`, on `time.perf_counter`, so the observer's and the fake's stamps
    convert to it exactly."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.origin = time.perf_counter()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.perf_counter() - self.origin)

    def stamp(self, t: datetime) -> float:
        return self.origin + (t - self.start).total_seconds()

    async def wait(self, wake: asyncio.Event, until: datetime | None) -> None:
        delay = None if until is None else max(0.0, (until - self.now()).total_seconds())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await wake.wait()


@dataclass
class StampedGateway(PowerwallState):
    """The fake gateway's state, stamping the moment a write leaves it held (both halves),
    and each `GET /api/operation` it answers."""

    held_at: float | None = None
    reads: list[float] = field(default_factory=list)

    def operation(self) -> dict[str, Any]:
        self.reads.append(time.perf_counter())
        return super().operation()

    def set_operation(self, body: object) -> str | None:
        refused = super().set_operation(body)
        held = (self.real_mode, self.backup_reserve_percent) == ("backup", 100.0)
        if held and self.held_at is None:
            self.held_at = time.perf_counter()
        return refused


@dataclass(frozen=True)
class Round:
    lead: float
    tariff: float  # s from the planned start to each stamp
    command: float
    gateway: float
    state: float
    reads: int  # GET /api/operation from the command to the gateway held
    hops: list[float]
    https: list[float]


def bus(port: int, name: str, folder: Path) -> BusSettings:
    return BusSettings.only(mqtt_host="127.0.0.1", mqtt_port=port, discovery=False,
                            health_file=folder / f"{name}.health")  # fmt: skip


@contextlib.asynccontextmanager
async def parts(port: int, clock: BenchClock, boundary: datetime,
                gateway: StampedGateway, folder: Path) -> AsyncIterator[str]:  # fmt: skip
    """The fakes and the four services, up until the block ends; yields the gateway's URL."""
    async with contextlib.AsyncExitStack() as stack:
        kraken_fake = await start_fake_kraken(clock=clock.now)
        stack.push_async_callback(kraken_fake.close)
        kraken_fake.add_account(ACCOUNT, api_key=KEY)
        window = FakeDispatch(boundary, boundary + timedelta(hours=1), "SMART")
        kraken_fake.accounts[ACCOUNT].planned.append(window)
        cloud = await start_fake_myenergi(ZappiState(plugged=True, mode=FAST))
        stack.push_async_callback(cloud.close)
        gw = await start_fake_powerwall(gateway)
        stack.push_async_callback(gw.close)

        kraken_settings = KrakenSettings.only(supplier="octopus", account=ACCOUNT, api_key=KEY,
                                              url=kraken_fake.endpoint,
                                              state_dir=folder / "kraken")  # fmt: skip
        kraken = KrakenBridge(Bus(bus(port, "kraken", folder), "kraken"), kraken_settings, clock)
        stack.push_async_callback(kraken.close)
        zappi_settings = MyenergiSettings.only(hub_serial=cloud.state.hub_serial,
                                               api_key=cloud.state.api_key,
                                               loopback_port=cloud.port)  # fmt: skip
        zappi = await stack.enter_async_context(open_zappi(zappi_settings))
        zappi_side = zappi_bridge(zappi_settings, Bus(bus(port, "zappi", folder), "zappi"),
                                  zappi, clock=clock.now)  # fmt: skip
        pw_settings = PowerwallSettings.only(host=gw.host_and_port, password=POWERWALL_PASSWORD,
                                             state_dir=folder / "powerwall")  # fmt: skip
        (folder / "powerwall").mkdir()
        pw = await stack.enter_async_context(make_gateway(pw_settings))
        await pw.connect()
        pw_side = powerwall_bridge(pw_settings, Bus(bus(port, "powerwall", folder), "powerwall"),
                                   pw, clock=clock.now)  # fmt: skip
        controller_settings = ControllerSettings.only(
            batteries="powerwall", guard_batteries="none", charger="zappi", tariff="kraken",
            state_dir=folder / "controller",
        )  # fmt: skip
        controller = Controller(Bus(bus(port, CONTROLLER_ID, folder), CONTROLLER_ID),
                                controller_settings, clock=clock.now)  # fmt: skip
        task = asyncio.ensure_future(run_together(
            kraken.bus.run(), kraken.run(), zappi_side.serve(), pw_side.serve(),
            controller.bus.run(), controller.run(),
        ))  # fmt: skip
        try:
            yield gw.url
        finally:
            await stop(task)


async def one_round(port: int, boundary: datetime, lead: float, client: aiomqtt.Client,
                    tape: Tape[Msg]) -> Round:  # fmt: skip
    gateway = StampedGateway(writes="accepted", real_mode="autonomous")
    with tempfile.TemporaryDirectory() as tmp:
        clock = BenchClock(boundary - timedelta(seconds=lead))
        mark = tape.mark()
        async with parts(port, clock, boundary, gateway, Path(tmp)) as url:
            await tape.wait(lambda m: m.topic == "wattbus/kraken/availability"
                            and m.payload == b"online", mark, READY)  # fmt: skip
            await tape.wait(lambda m: m.topic == "wattbus/zappi/state" and m.json()["charging"],
                            mark, READY)  # fmt: skip
            await tape.wait(lambda m: m.topic == "wattbus/powerwall/state", mark, READY)
            wait = lead + HELD_WITHIN
            held = await tape.wait(lambda m: _is(m, "wattbus/powerwall/state", "hold", True),
                                   mark, wait)  # fmt: skip
            active = await tape.wait(lambda m: _is(m, "wattbus/kraken/state", "active", True),
                                     mark)  # fmt: skip
            command = await tape.wait(lambda m: _is(m, "wattbus/powerwall/set", "hold", True),
                                      mark)  # fmt: skip
            assert gateway.held_at is not None
            await hop(client, tape)  # the first on a new connection: not counted
            hops = [await hop(client, tape) for _ in range(FLOOR_SAMPLES)]
            https = await round_trips(url, FLOOR_SAMPLES)
    start, held_at = clock.stamp(boundary), gateway.held_at
    reads = sum(1 for t in gateway.reads if command.t <= t <= held_at)
    return Round(lead, active.t - start, command.t - start, held_at - start, held.t - start,
                 reads, hops, https)  # fmt: skip


def _is(m: Msg, topic: str, key: str, value: Any) -> bool:
    return m.topic == topic and bool(m.payload) and m.json().get(key) == value


async def hop(client: aiomqtt.Client, tape: Tape[Msg]) -> float:
    mark = tape.mark()
    t0 = time.perf_counter()
    await client.publish(HOP, b"{}", qos=0)
    got = await tape.wait(lambda m: m.topic == HOP, mark)
    return got.t - t0


async def round_trips(url: str, n: int) -> list[float]:
    """`GET /api/status` on one kept-alive TLS connection; the first one, which opens it, is
    not counted."""
    took = []
    async with httpx.AsyncClient(verify=False) as http:  # the gateway's own self-signed cert
        await http.get(f"{url}/api/status")
        for _ in range(n):
            t0 = time.perf_counter()
            answer = await http.get(f"{url}/api/status")
            took.append(time.perf_counter() - t0)
            answer.raise_for_status()
    return took


async def live(rounds: int, seed: int = 1) -> None:
    """Each round on a broker of its own, so no retained state of the last round's parts
    (a held battery, a window) reaches the next."""
    rng = random.Random(seed)
    print(f"\n(2) planned start -> held, through the real parts: {rounds} rounds, each "
          f"starting {LEAD:g}-{LEAD + SPREAD:g} s before its boundary")  # fmt: skip
    results = []
    for i in range(rounds):
        boundary = FIRST + timedelta(hours=i)
        async with contextlib.AsyncExitStack() as stack:
            port, kind = await stack.enter_async_context(local_broker())
            tape = await stack.enter_async_context(observer(port, "dispatch", "wattbus/#", HOP))
            client = await stack.enter_async_context(aiomqtt.Client(
                "127.0.0.1", port, identifier="bench-hop",
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],  # as the services
            ))  # fmt: skip
            r = await one_round(port, boundary, LEAD + rng.uniform(0, SPREAD), client, tape)
        results.append(r)
        print(f"  round {i + 1} ({kind}): started {r.lead:.1f} s before {boundary:%H:%M}; "
              f"tariff {r.tariff * 1000:.1f} ms, command {r.command * 1000:.1f} ms, "
              f"gateway {r.gateway * 1000:.1f} ms ({r.reads} reads of /api/operation "
              f"before), state {r.state * 1000:.1f} ms")  # fmt: skip
    report(results)


def report(results: list[Round]) -> None:
    hops = [h for r in results for h in r.hops]
    https = [h for r in results for h in r.https]
    floor = percentile(hops, 50) + percentile(https, 50)
    print(f"{'from the planned start, ms':<52}{'p50':>10}{'max':>10}{'/ floor p50':>14}")
    rows = [
        ("kraken bridge: TariffState, window active", [r.tariff for r in results]),
        ('(a) controller: {"hold": true} on powerwall/set', [r.command for r in results]),
        ("(b) fake gateway: backup and 100 % applied", [r.gateway for r in results]),
        ("(c) powerwall bridge: state with hold: true", [r.state for r in results]),
    ]
    for label, values in rows:
        ms = [v * 1000 for v in values]
        print(f"{label:<52}{fmt(percentile(ms, 50)):>10}{fmt(max(ms)):>10}"
              f"{percentile(values, 50) / floor:>13.1f}x")  # fmt: skip
    hop50, https50 = percentile(hops, 50) * 1000, percentile(https, 50) * 1000
    print(
        f"floor: broker hop p50 {hop50:.2f} ms (max {max(hops) * 1000:.2f}) + HTTPS round "
        f"trip p50 {https50:.2f} ms (max {max(https) * 1000:.2f}) = {floor * 1000:.2f} ms; "
        f"{len(hops)} of each"
    )
