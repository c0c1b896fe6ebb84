"""The suite reads nothing of the user's: run parts of it from a folder with a `.env` and an
environment full of `WATTBUS_*` settings, as after the home guide's `cp .env.example .env`, and
nothing may follow them. The settings point every device and the broker at a tripwire on
loopback (never at a LAN address: nothing here may leave the machine)."""

from __future__ import annotations

import asyncio
import os
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
)
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
    }


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | settings
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml"),
            *(str(REPO / node) for node in SAMPLE)]  # fmt: skip
    async with server:
        result = await asyncio.to_thread(
            subprocess.run, args, cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=RUN_TIMEOUT,
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"{len(SAMPLE)} passed" in result.stdout
    assert touched == [], "a test followed the user's settings"
