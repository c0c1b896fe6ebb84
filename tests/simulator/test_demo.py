"""The demo as a new user runs it, in a terminal and piped, with either broker: a car charging
from the SmartEVSE in Solar mode must visibly hold the battery, whatever the user's own
settings say. Also the simulated home's
physics, which the demo and the bench rely on."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import aiomqtt
import pytest
from rich.console import Console
from wattbus_simulator.demo_view import BrokerAccess, View
from wattbus_simulator.fake_shelly import ShellyPro3EMState
from wattbus_simulator.fake_smartevse import SmartEvse
from wattbus_simulator.fake_zendure import ZendureState
from wattbus_simulator.home import simulated_home
from wattbus_simulator.household import EvSession, Household

LINE_WAIT = 45.0  # s: generous on a loaded machine; each wait ends when its line is printed
DEMO_TIMEOUT = 120  # s for a whole demo test, above pytest's default for the slow case


class DemoOutput:
    """What a demo prints on a pipe, read line by line as it comes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lines: list[str] = []
        self._partial = b""

    def wait_for(self, wanted: str, within: float = LINE_WAIT) -> str:
        """The first line printed so far, or within `within` s, that contains `wanted`."""
        deadline = time.monotonic() + within
        while True:
            for line in self.lines:
                if wanted in line:
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{wanted!r} not printed within {within} s: {self.lines}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                raise AssertionError(f"the demo ended without printing {wanted!r}: {self.lines}")
            *complete, self._partial = (self._partial + chunk).split(b"\n")
            self.lines += [c.decode() for c in complete]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    return env | extra


@contextlib.contextmanager
def demo_on_a_pipe(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[DemoOutput]:
    """`wattbus demo --duration N` with stdout on a pipe, as under `docker logs` or CI; Ctrl-C
    (SIGINT) at the end must stop it cleanly."""
    errors = cwd / "demo.stderr"
    with errors.open("wb") as err:
        demo = subprocess.Popen(
            [sys.executable, "-m", "wattbus", "demo", "--speed", "30", "--duration", "90", *args],
            stdout=subprocess.PIPE, stderr=err, cwd=cwd, env=env or clean_env(),
        )  # fmt: skip
    assert demo.stdout is not None
    try:
        yield DemoOutput(demo.stdout.fileno())
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=30) == 0, errors.read_text()[-3000:]
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        demo.stdout.close()
    assert "Traceback" not in errors.read_text(), errors.read_text()[-3000:]


@pytest.mark.timeout(DEMO_TIMEOUT)
@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_without_a_terminal_the_demo_prints_each_decision_and_event(
    broker: str, tmp_path: Path
) -> None:
    """Piped, a live view would print nothing until the end: one line per thing instead."""
    args = ["--embedded-broker"] if broker == "embedded" else []
    with demo_on_a_pipe(tmp_path, *args) as out:
        header = out.wait_for("broker: ")
        assert ("mosquitto on" if broker == "mosquitto" else "amqtt (embedded) on") in header
        out.wait_for("grid-meter: online")
        # the car plugs into the SmartEVSE, which the bridge feeds from the meter: in Solar
        # mode it lets the car take the roof's surplus, and says so
        out.wait_for("smartevse: solar, charging at")
        decision = out.wait_for("EV charging: True, holding zendure")
        assert "decision: charger smartevse charging" in decision
        out.wait_for("zendure applied: held via min_soc")
        # and the session's end as the guard and the battery really say it, values restored
        ended = out.wait_for("controller NOTICE ev_ended")
        assert "charger smartevse not charging" in ended
        restored = out.wait_for("zendure applied: release: restored")
        own = ZendureState().properties  # the demo battery's own settings, before the hold
        assert f"min_soc {own['minSoc'] // 10} %, output_limit {own['outputLimit']} W" in restored


@pytest.mark.timeout(DEMO_TIMEOUT)
@pytest.mark.timeout(DEMO_TIMEOUT)
def test_the_dispatch_evening_holds_the_powerwall_in_a_window_and_gives_it_back(
    tmp_path: Path,
) -> None:
    """The supplier's first window (18:00-19:00) with the car charging in it: the Powerwall is
    held in backup, the hold outlasts the car to the slot boundary, and the owner's own mode
    and reserve come back. At x200 the evening's first hour takes 18 s."""
    with demo_on_a_pipe(tmp_path, "--scenario", "dispatch", "--speed", "200") as out:
        out.wait_for("evening 18:00 supplier starts the car")
        hold = out.wait_for("controller NOTICE dispatch_hold: smart window 18:00-19:00 running")
        assert "holding until 19:00" in hold
        out.wait_for("powerwall applied: held via backup")
        out.wait_for("backup, reserve 100.0 %  HOLD")
        out.wait_for("decision: smart window 18:00-19:00 running; car not drawing")
        out.wait_for("controller NOTICE dispatch_release: released at 19:00")
        restored = out.wait_for("powerwall applied: release: restored")
        assert "operation self_consumption, reserve 20 %" in restored


@pytest.mark.timeout(DEMO_TIMEOUT)
def test_the_solar_day_on_a_pipe_says_how_to_change_the_strategy(tmp_path: Path) -> None:
    """The third scenario as a user pipes it: the broker's lines with the strategy's, then
    each device, the kasa bridge's own process among them, and the controller's decisions.
    Ctrl-C at the end stops it, that process too, cleanly."""
    with demo_on_a_pipe(tmp_path, "--scenario", "solar", "--speed", "60") as out:
        strategy = out.wait_for("strategy: ")
        assert strategy.endswith("-t wattbus/controller/set/strategy -m fast")
        for device in ("solaredge-meter", "solaredge-battery", "solaredge-inverter", "nrgkick"):
            out.wait_for(f"{device}: online")
        out.wait_for("kasa: online")
        out.wait_for("decision: nrgkick pause (tracked): no car plugged in")
        out.wait_for("decision: kasa ")


@pytest.mark.timeout(DEMO_TIMEOUT)
async def test_with_a_smappee_the_guard_holds_and_releases_on_5_minute_blocks(
    tmp_path: Path,
) -> None:
    """`--meter smappee`: the grid meter on the bus is the fake cloud's 5-minute blocks, each
    stamped with its own start and span, and the guard sees the car in them alone: the battery
    is held a block and the cloud's delay after the car starts (at minute 10 of the demo's
    clock, which starts on a block), and given back after the session. At x100 the session,
    from minute 10 to 40, takes 18 s."""
    with demo_on_a_pipe(tmp_path, "--meter", "smappee", "--speed", "100") as out:
        host, port = re.findall(r"on ([\d.]+):(\d+),", out.wait_for("broker: "))[0]
        started = out.wait_for("smappee: online")
        async with aiomqtt.Client(host, int(port)) as c:
            await c.subscribe("wattbus/smappee/state")
            message = await asyncio.wait_for(anext(aiter(c.messages)), LINE_WAIT)
        block = json.loads(message.payload)
        assert block["span"] == 300
        ts = datetime.fromisoformat(block["ts"])
        assert (ts.minute % 5, ts.second) == (0, 0)  # a block's start, not the time it was read
        detected = out.wait_for("controller NOTICE ev_detected")
        assert "signal=threshold" in detected  # the meter's word: no charger in this home
        # the block with the car in it ends at minute 15 at the earliest, and shows after that
        assert seconds_between(started, detected) >= 14 * 60
        out.wait_for("decision: house ")
        out.wait_for("zendure applied: held via min_soc")
        out.wait_for("controller NOTICE ev_ended")
        restored = out.wait_for("zendure applied: release: restored")
        own = ZendureState().properties
        assert f"min_soc {own['minSoc'] // 10} %, output_limit {own['outputLimit']} W" in restored


def seconds_between(first: str, then: str) -> float:
    """From one line's stamp (HH:MM:SS, the demo's clock) to a later one's, over midnight."""
    a, b = (datetime.strptime(line[:8], "%H:%M:%S") for line in (first, then))
    return (b - a).total_seconds() % 86_400


def test_the_demo_reads_nothing_of_the_users_settings(tmp_path: Path) -> None:
    """A user's `.env` and `WATTBUS_*` name their own broker and devices. Each poison here would
    stop the hold if the demo read it, and all point at loopback ports where nothing listens:
    a broken seal fails here, visibly, and connects nowhere."""
    (tmp_path / ".env").write_text(
        "WATTBUS_CONTROLLER_THRESHOLD=100000\nWATTBUS_SHELLY_SOURCE=mqtt\n"
        "WATTBUS_CONTROLLER_CHARGER=poisoned-charger\n"
    )
    env = clean_env(
        WATTBUS_MQTT_HOST="127.0.0.1", WATTBUS_MQTT_PORT="9",
        WATTBUS_ZENDURE_HOST="127.0.0.1", WATTBUS_ZENDURE_PORT="9",
        WATTBUS_ZENDURE_ID="poisoned", WATTBUS_SHELLY_ID="poisoned-meter",
        WATTBUS_SMARTEVSE_PREFIX="poisoned/charger", WATTBUS_SMARTEVSE_METER="poisoned-meter",
    )  # fmt: skip
    with demo_on_a_pipe(tmp_path, env=env) as out:
        assert "127.0.0.1:9," not in out.wait_for("broker: ")
        out.wait_for("grid-meter: online")
        out.wait_for("decision: charger smartevse charging")
        out.wait_for("zendure applied: held via min_soc")


@pytest.mark.timeout(DEMO_TIMEOUT)
async def test_the_demo_says_how_to_reach_its_broker_and_shows_the_guards_notices(
    tmp_path: Path,
) -> None:
    """The printed commands work as printed (`uv run wattbus` is this interpreter's wattbus),
    and a notice published on that broker is shown with its code, reason and values."""
    with demo_on_a_pipe(tmp_path) as out:
        host, port = re.findall(r"on ([\d.]+):(\d+),", out.wait_for("broker: "))[0]
        assert "no login" in out.lines[0]
        out.wait_for("grid-meter: online")  # the view is subscribed by now

        status = out.wait_for("status: ").removeprefix("status: ")
        status = status.replace("uv run wattbus", f"{sys.executable} -m wattbus")
        shown = shell(status, tmp_path)
        assert "grid-meter" in shown and "online" in shown

        watch = out.wait_for("watch: ").removeprefix("watch:").strip()
        assert watch.startswith(f"mosquitto_sub -h {host} -p {port} -t 'wattbus/#' -v")
        assert "wattbus/" in shell(f"{watch} -C 1 -W 10", tmp_path)

        notice = {
            "ts": "2026-12-01T10:00:00Z", "kind": "notice", "code": "battery_released",
            "reason": "EV session ended: battery restored", "data": {"min_soc": 15},
        }  # fmt: skip
        async with aiomqtt.Client(host, int(port)) as c:
            await c.publish("wattbus/controller/event", json.dumps(notice), qos=1)
        out.wait_for(
            "controller NOTICE battery_released: EV session ended: battery restored (min_soc=15)"
        )


def shell(command: str, cwd: Path) -> str:
    """A command line as the reader pastes it; its output."""
    result = subprocess.run(
        command, shell=True, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_the_live_view_shows_availability_markers_and_notices() -> None:
    """`[online]` is text to show, not rich markup; a notice stands in the event pane with its
    reason, and an applied answer with the bridge's note."""
    async with simulated_home() as home:
        view = View(home, BrokerAccess("127.0.0.1", 1883, "mosquitto"))
        view.take("wattbus/grid-meter/availability", b"online")
        view.take("wattbus/zendure/availability", b"offline")
        notice = {"kind": "notice", "code": "ev_detected", "reason": "house 9000 W above 5000 W"}
        view.take("wattbus/controller/event", json.dumps(notice).encode())
        applied = {"kind": "applied", "reason": "release: restored", "command": {"hold": False}}
        view.take("wattbus/zendure/event", json.dumps(applied).encode())
        console = Console(file=io.StringIO(), width=200, record=True)
        console.print(view.render())
    screen = console.export_text()
    grid = next(line for line in screen.splitlines() if "grid " in line)
    battery = next(line for line in screen.splitlines() if "battery " in line)
    assert "[online]" in grid
    assert "[offline]" in battery
    assert "controller NOTICE ev_detected: house 9000 W above 5000 W" in screen
    assert "zendure applied: release: restored" in screen


def test_ctrl_c_stops_the_demo_cleanly(tmp_path: Path) -> None:
    """As in a terminal: Ctrl-C reaches the whole foreground group, the local broker included.
    The demo must stop without a traceback or an asyncio complaint, and exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    leader, terminal = pty.openpty()
    demo = subprocess.Popen(
        [sys.executable, "-m", "wattbus", "demo", "--speed", "30"],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=tmp_path, env=env,
        start_new_session=True,
    )  # fmt: skip
    os.close(terminal)
    screen = b""
    try:
        screen += read_until(leader, b"EV charging: True", within=60)
        os.killpg(demo.pid, signal.SIGINT)
        assert demo.wait(timeout=30) == 0
        screen += read_until(leader, None, within=5)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
        os.close(leader)
    text = screen.decode(errors="replace")
    assert "Traceback" not in text, text[-3000:]
    assert "never retrieved" not in text, text[-3000:]


def read_until(fd: int, wanted: bytes | None, within: float) -> bytes:
    """What the terminal shows until `wanted` appears, or (None) until the program closes it."""
    got = b""
    deadline = time.monotonic() + within
    while wanted is None or wanted not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            if wanted is None:
                return got
            raise AssertionError(f"{wanted!r} not shown within {within} s: {got[-2000:]!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every process holding the terminal has exited
            return got
        if not chunk:
            return got
        got += chunk
    return got


def household(**kw: object) -> Household:
    return Household(ShellyPro3EMState(), ZendureState(), **kw)  # type: ignore[arg-type]


def test_battery_covers_the_house_on_l1_until_its_output_limit() -> None:
    h = household(sessions=[EvSession(0, 100)])
    h.battery.properties.update(minSoc=100, outputLimit=800, acMode=2)
    h.step(10, 1)
    assert h.battery.properties["outputHomePower"] == 800
    assert h.battery.properties["packInputPower"] == 800  # discharging
    _, l2, l3 = (p.act_power for p in h.meter.phases)
    assert l2 > 11000 / 3 and l3 > 11000 / 3  # the EV's share; the battery is on L1 only
    assert sum(p.act_power for p in h.meter.phases) == pytest.approx(
        h.base_load(10) + 11000 - 800, abs=0.5
    )


def test_battery_at_min_soc_stops_discharging() -> None:
    h = household(soc=10.0)
    h.battery.properties.update(minSoc=100)  # 10 %
    h.step(10, 1)
    assert h.battery.properties["outputHomePower"] == 0
    assert h.battery.properties["packInputPower"] == 0


def test_battery_charges_from_pv_surplus() -> None:
    h = household(pv=2000.0)
    h.step(10, 3600)
    assert h.battery.properties["outputPackPower"] > 0
    assert h.soc > 60.0
    # zero feed-in: the grid sees nothing in total, but the single-phase battery covering
    # the whole house exports on L1 while L2 and L3 import
    assert sum(p.act_power for p in h.meter.phases) == pytest.approx(0, abs=1)
    assert h.meter.phases[0].act_power < 0


def test_with_a_charger_the_car_draws_what_the_charger_allows() -> None:
    evse = SmartEvse(mode="Normal", max_current=10)
    h = household(sessions=[EvSession(0, 100)], charger=evse)
    h.step(10, 1)
    assert h.ev_power(10) == 0  # plugged in by the session, but not yet on the cable
    evse.plug(h.car_plugged(10))
    h.step(11, 1)
    assert h.ev_power(11) == 10 * 3 * 230
    assert sum(p.act_power for p in h.meter.phases) == pytest.approx(
        h.base_load(11) + 6900 - h.battery.properties["outputHomePower"], abs=0.5
    )
    assert not h.car_plugged(100)


def test_rooftop_pv_exports_and_the_battery_covers_only_what_the_sun_does_not() -> None:
    h = household(roof_pv=9000.0)
    h.battery.properties.update(minSoc=100, outputLimit=800, acMode=2)
    h.step(10, 1)
    assert 9000 * 0.6 <= h.solar(10) <= 9000
    assert h.battery.properties["outputHomePower"] == 0  # nothing to cover
    assert sum(p.act_power for p in h.meter.phases) == pytest.approx(
        h.base_load(10) - h.solar(10), abs=0.5
    )


def test_in_solar_mode_the_car_follows_the_surplus_it_is_fed() -> None:
    """The demo's loop without the bus: the meter's phases, fed as the bridge feeds them,
    bring the car to the surplus and keep the house near zero."""
    evse = SmartEvse(mode="Solar")
    h = household(sessions=[EvSession(0, 1000)], roof_pv=9000.0, charger=evse)
    evse.plug(True)
    for t in range(1, 30):
        h.step(t, 1)
        mains = [round(p.act_power / 230 * 10) for p in h.meter.phases]
        evse.handle("MainsMeter", ":".join(map(str, mains)))
        evse.tick()
    assert evse.state_id == "C"
    grid = sum(p.act_power for p in h.meter.phases)
    assert -3 * 230 <= grid <= 0  # the car takes the surplus, to within 1 A a phase
    assert h.ev_power(29) >= 6 * 3 * 230
