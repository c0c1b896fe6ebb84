"""The bridge on a demo's clock, as the solar demo runs it: a process of its own, so that no
other package links python-kasa, whose states carry the demo day's time."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.broker import Broker, password
from support.mqtt import observer
from wattbus_simulator.fake_kasa import FakeKasa
from wattbus_simulator.processes import STOP_TIMEOUT, bus_env


def kasa_demo(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "wattbus_kasa.demo", *args], env={**clean, **env}, cwd=tmp_path,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [(), ("2026-06-21T10:00:00", "0", "60"), ("2026-06-21T10:00:00+02:00", "0", "0"),
     ("2026-06-21T10:00:00+02:00", "now", "60"), ("2026-06-21T10:00:00+02:00", "0", "60", "x")],
)  # fmt: skip
def test_a_clock_it_cannot_read_exits_2_with_one_line(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    process = kasa_demo(tmp_path, *args, WATTBUS_KASA_HOST="127.0.0.1")
    try:
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()  # one that took the clock runs the bridge: it must not outlive the test
    assert process.returncode == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("usage: python -m wattbus_kasa.demo")


async def test_its_states_carry_the_demo_days_time(
    tmp_path: Path, broker: Broker, fake: FakeKasa
) -> None:
    env = bus_env(broker.port, "kasa", password("kasa")) | {
        "WATTBUS_KASA_HOST": "127.0.0.1", "WATTBUS_KASA_PORT": str(fake.port),
        "WATTBUS_KASA_POLL_INTERVAL": "1", "WATTBUS_HEALTH_FILE": str(tmp_path / "health"),
    }  # fmt: skip
    async with observer(broker) as obs:
        process = kasa_demo(tmp_path, "2026-06-21T10:00:00+02:00", repr(time.time()), "60", **env)
        try:
            state = (await obs.wait_for("wattbus/kasa/state")).json
        finally:
            process.terminate()
            process.communicate(timeout=STOP_TIMEOUT)
    assert state["ts"].startswith("2026-06-21T10:0")  # not the wall clock's day: a few minutes on
    assert state["on"] is True


async def test_it_stops_when_the_demo_is_gone(
    tmp_path: Path, broker: Broker, fake: FakeKasa
) -> None:
    """A demo killed outright cannot stop it; its stdin, the demo's pipe, ends then, and the
    bridge ends with it rather than retry a dead broker for ever."""
    env = bus_env(broker.port, "kasa", password("kasa")) | {
        "WATTBUS_KASA_HOST": "127.0.0.1", "WATTBUS_KASA_PORT": str(fake.port),
        "WATTBUS_HEALTH_FILE": str(tmp_path / "health"),
    }  # fmt: skip
    async with observer(broker) as obs:
        process = kasa_demo(tmp_path, "2026-06-21T10:00:00+02:00", repr(time.time()), "60", **env)
        try:
            await obs.wait_for("wattbus/kasa/availability", lambda m: m.text == "online")
            assert process.stdin is not None
            process.stdin.close()  # as the system does when the demo dies
            code = await asyncio.to_thread(process.wait, STOP_TIMEOUT)
        finally:
            process.kill()
            process.wait()
            errors = process.stderr.read() if process.stderr else ""
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
    assert code == 0, errors
    assert "Traceback" not in errors, errors
    await obs.wait_for("wattbus/kasa/availability", lambda m: m.text == "offline")
