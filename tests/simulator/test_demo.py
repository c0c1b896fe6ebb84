"""The demo as a new user runs it, with either broker: an EV session must visibly hold the
battery. Also the simulated home's physics, which the demo and the bench rely on."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from wattbus_simulator.fake_shelly import ShellyPro3EMState
from wattbus_simulator.fake_zendure import ZendureState
from wattbus_simulator.household import EvSession, Household


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_shows_an_ev_session_holding_the_battery(broker: str, tmp_path: Path) -> None:
    args = ["demo", "--speed", "30", "--duration", "20"]
    if broker == "embedded":
        args.append("--embedded-broker")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    result = subprocess.run(
        [sys.executable, "-m", "wattbus", *args],
        capture_output=True, text=True, timeout=90, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HOLD via min_soc" in result.stdout
    assert "EV charging: True" in result.stdout
    expected = "mosquitto" if broker == "mosquitto" else "amqtt"
    assert expected in result.stdout


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
