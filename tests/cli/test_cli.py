"""The `wattbus` command as a user runs it: a real process, real exit codes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from support.broker import Broker, password
from support.home import Home, battery_held
from support.mqtt import Msg, observer
from wattbus_simulator.processes import bus_env


def wattbus(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "wattbus", *args],
        env=clean, cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_bridge_without_a_host_exits_2_with_one_line(tmp_path: Path) -> None:
    result = wattbus("run", "shelly", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "wattbus: shelly: WATTBUS_SHELLY_HOST is required"
    ]


def test_a_bad_value_names_its_variable(tmp_path: Path) -> None:
    env = {"WATTBUS_ZENDURE_HOST": "127.0.0.1", "WATTBUS_ZENDURE_POLL_INTERVAL": "fast"}
    result = wattbus("config", "check", "zendure", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "WATTBUS_ZENDURE_POLL_INTERVAL" in result.stderr


def test_a_secret_comes_from_a_file_and_is_masked(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt.password"
    secret.write_text("s3cret-value\n")
    env = {"WATTBUS_MQTT_PASSWORD_FILE": str(secret), "WATTBUS_SHELLY_HOST": "127.0.0.1"}
    result = wattbus("config", "check", "shelly", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "s3cret-value" not in result.stdout
    assert "**********" in result.stdout


def test_an_unknown_service_or_mode_exits_2(tmp_path: Path) -> None:
    assert wattbus("run", "toaster", cwd=tmp_path).returncode == 2
    assert wattbus("mode", "turbo", cwd=tmp_path).returncode == 2
    assert wattbus("demo", "--speed", "0", cwd=tmp_path).returncode == 2
    smappee_day = ("demo", "--meter", "smappee", "--scenario", "solar", "--duration", "1")
    result = wattbus(*smappee_day, cwd=tmp_path)
    assert result.returncode == 2
    assert "--meter smappee is for the home scenario" in result.stderr


def test_health_fails_without_a_running_service(tmp_path: Path) -> None:
    result = wattbus("health", "--file", str(tmp_path / "none"), cwd=tmp_path)
    assert result.returncode == 1


async def test_pause_and_resume_from_the_command_line(home: Home) -> None:
    env = bus_env(home.broker.port, "cli", password("cli"))
    async with observer(home.broker) as obs:
        for name in ("shelly", "zendure", "controller"):
            home.service(name)
        await obs.wait_for("wattbus/controller/state")
        paused = await asyncio.to_thread(wattbus, "pause", env=env, cwd=home.workdir)
        assert paused.returncode == 0, paused.stderr
        await obs.wait_for("wattbus/zendure/state", battery_held)
        mark = obs.mark()
        resumed = await asyncio.to_thread(wattbus, "resume", env=env, cwd=home.workdir)
        assert resumed.returncode == 0, resumed.stderr
        await obs.wait_for("wattbus/zendure/state", lambda m: not m.json["hold"], after=mark)
        await obs.wait_for("wattbus/health", every_bridge_answers)
        status = await asyncio.to_thread(wattbus, "status", env=env, cwd=home.workdir)
        assert status.returncode == 0
        assert "zendure" in status.stdout and "grid-meter" in status.stdout
        assert "last read" in status.stdout
        assert "home: ok" in status.stdout


def every_bridge_answers(m: Msg) -> bool:
    devices = m.json["devices"]
    return m.json["status"] == "ok" and all(
        devices.get(d, {}).get("last_success") for d in ("grid-meter", "zendure")
    )


def test_pause_without_a_controller_says_so(broker: Broker, tmp_path: Path) -> None:
    env = bus_env(broker.port, "cli", password("cli"))
    result = wattbus("pause", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "no answer from the controller" in result.stderr


def test_per_plug_rules_come_from_json_in_the_environment(tmp_path: Path) -> None:
    rules = '{"pump": {"on_above": 400, "start": "11:00"}}'
    env = {"WATTBUS_CONTROLLER_PLUGS": "rod,pump", "WATTBUS_CONTROLLER_PLUG_RULES": rules}
    result = wattbus("config", "check", "controller", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "{'pump': {'on_above': 400.0" in result.stdout
    env["WATTBUS_CONTROLLER_PLUG_RULES"] = '{"pump": {"on_above": "lots"}}'
    result = wattbus("config", "check", "controller", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "WATTBUS_CONTROLLER_PLUG_RULES" in result.stderr
