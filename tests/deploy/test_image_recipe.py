"""The Dockerfile's install steps, run here: CI has no Docker engine, so the image is never built
in it, but what goes into the image is these `uv sync` commands, and they run anywhere.

The commands are read from the Dockerfile itself, and run as its build stage runs them: first
with only the lock and the workspace's pyproject files, then with the sources, into a venv of
its own, offline (from the cache the test environment was installed from). The venv must then
hold a working `wattbus` that starts a service, and nothing of the simulator.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.broker import REPO, Broker, password

DOCKERFILE = REPO / "Dockerfile"
SYNC_TIMEOUT = 300  # s; a few seconds from a warm cache
START_TIMEOUT = 30  # s for the controller to connect


def uv_binary() -> str:
    """`uv run` names itself in $UV; `make test` may have installed it in .tools/."""
    found = os.environ.get("UV") or shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("no uv: run the tests with `make test`")
    return found


def dockerfile_syncs() -> list[list[str]]:
    """Every `uv sync` the Dockerfile runs, with its ARG PACKAGES expanded."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    packages = re.search(r'^ARG PACKAGES="([^"]*)"', text, re.MULTILINE)
    assert packages, "ARG PACKAGES in the Dockerfile"
    commands = []
    for line in text.splitlines():
        if line.startswith("RUN ") and " uv sync " in line:
            command = line.split(" uv sync ", 1)[1].replace("${PACKAGES}", packages.group(1))
            commands.append(["sync", *shlex.split(command)])
    return commands


def copy_workspace_manifests(dst: Path) -> None:
    """The Dockerfile's first COPY lines: the lock and every pyproject.toml, no sources."""
    shutil.copy2(REPO / "pyproject.toml", dst)
    shutil.copy2(REPO / "uv.lock", dst)
    for manifest in REPO.glob("*/pyproject.toml"):
        (dst / manifest.parent.name).mkdir()
        shutil.copy2(manifest, dst / manifest.parent.name)
    for manifest in REPO.glob("services/*/pyproject.toml"):
        target = dst / manifest.parent.relative_to(REPO)
        target.mkdir(parents=True)
        shutil.copy2(manifest, target)


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    venv = tmp_path_factory.mktemp("app") / ".venv"
    env = os.environ | {
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_OFFLINE": "1",  # loopback only: the cache that installed the test venv suffices
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "VIRTUAL_ENV": "",
    }
    syncs = dockerfile_syncs()
    assert len(syncs) == 2, "a dependencies layer, then the workspace packages"
    copy_workspace_manifests(src)
    for step, args in enumerate(syncs):
        if step == 1:  # the Dockerfile's `COPY shared/ shared/` and `COPY services/ services/`
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".venv", "tests")
            shutil.copytree(REPO / "shared", src / "shared", dirs_exist_ok=True, ignore=ignore)
            shutil.copytree(REPO / "services", src / "services", dirs_exist_ok=True, ignore=ignore)
        result = subprocess.run(
            [uv_binary(), *args], cwd=src, env=env, capture_output=True, text=True,
            timeout=SYNC_TIMEOUT, check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"uv {shlex.join(args)}:\n{result.stderr[-2000:]}"
    shutil.rmtree(src)  # the image's venv runs without the sources (non-editable install)
    return venv


def wattbus(
    venv: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("WATTBUS_", "UV", "VIRTUAL_ENV"))
    }
    return subprocess.run(
        [str(venv / "bin" / "wattbus"), *args], env=clean | (env or {}),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_image_holds_the_services_and_not_the_simulator(image_venv: Path) -> None:
    python = str(image_venv / "bin" / "python")
    probe = (
        "from importlib.metadata import entry_points; import importlib.util as u;"
        "print(sorted(e.name for e in entry_points(group='wattbus.services')),"
        " u.find_spec('wattbus_simulator') is None, u.find_spec('pytest') is None)"
    )
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    services = (
        "['controller', 'kasa', 'kraken', 'myenergi', 'notify', 'nrgkick', 'powerwall', "
        "'shelly', 'smappee', 'smartevse', 'solaredge', 'zendure']"
    )
    assert out.stdout.strip() == f"{services} True True"


def test_a_service_without_its_device_address_exits_2_with_one_line(image_venv: Path) -> None:
    result = wattbus(image_venv, "run", "zendure")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "WATTBUS_ZENDURE_HOST" in result.stderr


def test_the_smartevse_bridge_without_its_prefix_exits_2_with_one_line(image_venv: Path) -> None:
    """The charger's prefix holds its serial number, so it has no default: compose's
    `smartevse` profile started without it must say so, not feed a guessed topic."""
    result = wattbus(image_venv, "run", "smartevse")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "WATTBUS_SMARTEVSE_PREFIX" in result.stderr


def test_the_kraken_bridge_without_its_account_exits_2_with_one_line(image_venv: Path) -> None:
    """Nothing is sent to a supplier from a half-configured tariff."""
    result = wattbus(image_venv, "run", "kraken", env={"WATTBUS_KRAKEN_SUPPLIER": "octopus"})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "WATTBUS_KRAKEN_ACCOUNT" in result.stderr


def test_the_controller_from_the_image_comes_online(
    image_venv: Path, broker: Broker, tmp_path: Path
) -> None:
    """The container's command (`wattbus run controller`) with the image's venv, on the suite's
    broker; `wattbus health` (the image's HEALTHCHECK) turns healthy once it is connected."""
    health = tmp_path / "health"
    env = {
        "WATTBUS_MQTT_HOST": "127.0.0.1",
        "WATTBUS_MQTT_PORT": str(broker.port),
        "WATTBUS_MQTT_USERNAME": "controller",
        "WATTBUS_MQTT_PASSWORD": password("controller"),
        "WATTBUS_CONTROLLER_STATE_DIR": str(tmp_path / "state"),
        "WATTBUS_HEALTH_FILE": str(health),
    }
    assert wattbus(image_venv, "health", env=env).returncode != 0  # not started yet
    process = subprocess.Popen(
        [str(image_venv / "bin" / "wattbus"), "run", "controller"],
        env={k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")} | env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not health.exists():  # touched once the bus is connected
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "the controller never connected"
            time.sleep(0.02)  # polling for a file to appear, not synchronising on time
        assert wattbus(image_venv, "health", env=env).returncode == 0
    finally:
        process.terminate()
        process.wait(timeout=10)
