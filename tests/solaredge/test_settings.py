"""`wattbus run solaredge` as a user runs it: settings that cannot work exit 2 with one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.broker import free_port


def run(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    return subprocess.run(
        [sys.executable, "-m", "wattbus", "run", "solaredge"],
        env=clean | env, cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_without_the_inverters_host(tmp_path: Path) -> None:
    result = run({}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["wattbus: solaredge: WATTBUS_SOLAREDGE_HOST is required"]


def test_a_battery_without_its_login_on_a_broker_with_logins(tmp_path: Path) -> None:
    port = str(free_port())  # nothing listens: the check comes before any connection
    env = {"WATTBUS_SOLAREDGE_HOST": "127.0.0.1", "WATTBUS_SOLAREDGE_PORT": port,
           "WATTBUS_MQTT_PORT": port, "WATTBUS_MQTT_USERNAME": "solaredge-meter"}  # fmt: skip
    result = run(env, tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "wattbus: solaredge: WATTBUS_SOLAREDGE_BATTERY_MQTT_PASSWORD is required"
    )


def test_an_inverter_without_its_login_on_a_broker_with_logins(tmp_path: Path) -> None:
    port = str(free_port())
    env = {"WATTBUS_SOLAREDGE_HOST": "127.0.0.1", "WATTBUS_SOLAREDGE_PORT": port,
           "WATTBUS_SOLAREDGE_BATTERY": "0",
           "WATTBUS_MQTT_PORT": port, "WATTBUS_MQTT_USERNAME": "solaredge-meter"}  # fmt: skip
    result = run(env, tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line == (
        "wattbus: solaredge: WATTBUS_SOLAREDGE_INVERTER_MQTT_PASSWORD is required: the inverter"
        " logs in as solaredge-inverter (or set WATTBUS_SOLAREDGE_INVERTER=0)"
    )


def test_the_inverter_with_the_meters_id(tmp_path: Path) -> None:
    env = {"WATTBUS_SOLAREDGE_HOST": "127.0.0.1",
           "WATTBUS_SOLAREDGE_INVERTER_ID": "solaredge-meter"}  # fmt: skip
    result = run(env, tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "WATTBUS_SOLAREDGE_INVERTER_ID" in line


def test_the_same_id_twice(tmp_path: Path) -> None:
    env = {"WATTBUS_SOLAREDGE_HOST": "127.0.0.1", "WATTBUS_SOLAREDGE_BATTERY_ID": "solaredge-meter"}
    result = run(env, tmp_path)
    assert result.returncode == 2
    assert "WATTBUS_SOLAREDGE_BATTERY_ID" in result.stderr
