"""The suite reads nothing of the user's: run parts of it from a folder with a `.env` and an
environment full of `WATTBUS_*` settings, as after the home guide's `cp .env.example .env`, and
nothing may follow them. The settings point every device and the broker at a tripwire on
loopback (never at a LAN address: nothing here may leave the machine)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.broker import REPO

# Each reads settings in its own way: a service's subprocess started without a folder of its
# own (the case that once read the checkout's .env), in-process settings, the CLI, real
# services as processes around a whole EV session.
SAMPLE = (
    "tests/deploy/test_image_recipe.py::test_a_service_without_its_device_address_exits_2_with_one_line",
    "tests/shared/test_runtime.py::test_a_poll_now_during_a_poll_reads_again_at_once",
    "tests/cli/test_cli.py::test_a_bridge_without_a_host_exits_2_with_one_line",
    "tests/e2e/test_ev_guard_e2e.py::test_ev_session_holds_and_restores_exact_settings",
    # one process-starting test of each later service
    "tests/solaredge/test_settings.py::test_without_the_inverters_host",
    "tests/nrgkick/test_settings.py::test_without_a_host_it_exits_2_with_one_line",
    "tests/powerwall/test_service.py::test_the_service_without_its_gateways_host_exits_2_with_one_line",
    "tests/deploy/test_image_recipe.py::test_the_kraken_bridge_without_its_account_exits_2_with_one_line",
    "tests/myenergi/test_settings.py::test_without_a_hub_serial_it_exits_2_with_one_line",
    "tests/smartevse/test_service_feed.py::test_wattbus_run_exits_2_with_one_line_for_a_too_slow_meter",
    "tests/kasa/test_settings.py::test_without_a_host_it_exits_2_with_one_line",
    "tests/smappee/test_settings.py::test_without_its_settings_it_exits_2_with_one_line",
)
MQTT_PORT = 1883  # the default broker port, where a user's own Mosquitto listens
RUN_TIMEOUT = 240.0  # s for the sample, which builds the image's venv once


def users_settings(port: int) -> dict[str, str]:
    return {
        "WATTBUS_MQTT_HOST": "127.0.0.1",
        "WATTBUS_MQTT_PORT": str(port),
        "WATTBUS_MQTT_USERNAME": "someone",
        "WATTBUS_TOPIC_PREFIX": "users-home",
        "WATTBUS_SHELLY_HOST": "127.0.0.1",
        "WATTBUS_SHELLY_PORT": str(port),
        "WATTBUS_ZENDURE_HOST": "127.0.0.1",
        "WATTBUS_ZENDURE_PORT": str(port),
        "WATTBUS_CONTROLLER_THRESHOLD": "1",
        "WATTBUS_SOLAREDGE_HOST": "127.0.0.1",
        "WATTBUS_SOLAREDGE_PORT": str(port),
        "WATTBUS_NRGKICK_HOST": f"127.0.0.1:{port}",
        "WATTBUS_POWERWALL_HOST": f"127.0.0.1:{port}",
        "WATTBUS_KRAKEN_ACCOUNT": "A-1234ABCD",
        "WATTBUS_KRAKEN_API_KEY": "users-key",
        "WATTBUS_KRAKEN_URL": f"http://127.0.0.1:{port}/",
        "WATTBUS_MYENERGI_HUB_SERIAL": "12345678",
        "WATTBUS_MYENERGI_API_KEY": "users-key",
        "WATTBUS_MYENERGI_LOOPBACK_PORT": str(port),
        "WATTBUS_SMARTEVSE_PREFIX": "SmartEVSE/12345",
        "WATTBUS_KASA_HOST": "127.0.0.1",
        "WATTBUS_KASA_PORT": str(port),
        "WATTBUS_SMAPPEE_CLIENT_ID": "users-client",
        "WATTBUS_SMAPPEE_CLIENT_SECRET": "users-secret",
        "WATTBUS_SMAPPEE_USERNAME": "someone",
        "WATTBUS_SMAPPEE_PASSWORD": "users-password",
        "WATTBUS_SMAPPEE_URL": f"http://127.0.0.1:{port}/dev/v3",
    }


def sample_args() -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml"),
            *(str(REPO / node) for node in SAMPLE)]  # fmt: skip


def users_env(settings: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | settings


@pytest.mark.timeout(RUN_TIMEOUT + 30)
async def test_the_suite_ignores_the_users_env_file_and_environment(tmp_path: Path) -> None:
    touched: list[str] = []

    async def tripwire(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        touched.append(str(writer.get_extra_info("peername")))
        writer.close()

    server = await asyncio.start_server(tripwire, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = users_settings(port)
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    async with server:
        result = await asyncio.to_thread(
            subprocess.run, sample_args(), cwd=tmp_path, env=users_env(settings),
            capture_output=True, text=True, timeout=RUN_TIMEOUT,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"{len(SAMPLE)} passed" in result.stdout
    assert touched == [], "a test followed the user's settings"


def can_unshare() -> str | None:
    """Why a network namespace of our own cannot be had here, or None when it can."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare (util-linux) and ip (iproute2)"
    probe = subprocess.run(
        ["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"no user and network namespace here: {probe.stderr.strip()}"
    return None


@pytest.mark.timeout(RUN_TIMEOUT + 30)
def test_nothing_reaches_the_default_broker_port(tmp_path: Path) -> None:
    """A user's own Mosquitto listens on 1883, which no test may reach, whatever the user's
    settings say. In a network namespace of its own (where 1883 is free, and nothing can leave
    the machine) a tripwire listens there, and the settings name it too; the sample runs as
    root of that namespace, so its Mosquitto keeps that user."""
    why_not = can_unshare()
    if why_not is not None:
        pytest.skip(why_not)
    settings = users_settings(MQTT_PORT)
    del settings["WATTBUS_MQTT_PORT"]  # the default, as in most homes' .env
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    inside = users_env(settings) | {"USER": "root", "LOGNAME": "root"}
    tripwire = REPO / "tests" / "support" / "tripwire.py"
    script = 'ip link set lo up && exec "$@"'
    args = ["unshare", "-rn", "sh", "-c", script, "sh",
            sys.executable, str(tripwire), str(MQTT_PORT), "--", *sample_args()]  # fmt: skip
    result = subprocess.run(
        args, cwd=tmp_path, env=inside, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"{len(SAMPLE)} passed" in result.stdout
    assert "tripwire: untouched" in result.stdout
