"""Values saved at run time override the configured settings: the controller says so at
start-up, shows them in its state and in `config check`, and `reset` drops them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.broker import Broker, password
from wattbus.models import ControllerMode
from wattbus_controller.memory import FILE_NAME, Memory, load
from wattbus_controller.overrides import describe, overrides
from wattbus_controller.settings import ControllerSettings
from wattbus_simulator.processes import bus_env

from .conftest import EVENTS, STATE, controller_rig

SAVED_THRESHOLD = "threshold 3000 W saved at run time overrides WATTBUS_CONTROLLER_THRESHOLD=5000"


def saved(state_dir: Path, memory: Memory) -> None:
    (state_dir / FILE_NAME).write_text(memory.model_dump_json())


def in_file(state_dir: Path) -> Memory:
    return Memory.model_validate_json((state_dir / FILE_NAME).read_bytes())


def wattbus(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    return subprocess.run(
        [sys.executable, "-m", "wattbus", *args],
        env=clean | env, cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_each_saved_value_names_the_setting_it_overrides() -> None:
    settings = ControllerSettings.only(threshold=5000, mode=ControllerMode.AUTO)
    memory = Memory(mode=ControllerMode.PAUSE, threshold=3000, release=30)
    assert describe(overrides(settings, memory)) == [
        "mode pause saved at run time overrides WATTBUS_CONTROLLER_MODE=auto",
        SAVED_THRESHOLD,
        "release 30 s saved at run time overrides WATTBUS_CONTROLLER_RELEASE=120",
    ]


async def test_start_up_logs_and_the_state_shows_a_saved_value(
    own_broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    saved(tmp_path, Memory(threshold=3000))
    async with controller_rig(own_broker, tmp_path, threshold=5000) as rig:
        assert SAVED_THRESHOLD in caplog.messages
        state = await rig.obs.wait_for(STATE)
        assert state.json["threshold"] == 3000
        assert state.json["overrides"] == {"threshold": {"configured": 5000, "saved": 3000}}


async def test_reset_drops_every_saved_value(own_broker: Broker, tmp_path: Path) -> None:
    saved(tmp_path, Memory(mode=ControllerMode.PAUSE, threshold=3000, confirm=9, release=9))
    async with controller_rig(own_broker, tmp_path, threshold=5000) as rig:
        await rig.obs.wait_for(STATE, lambda m: m.json["mode"] == "pause")
        await rig.obs.publish("wattbus/controller/set", {"reset": True, "id": "r1"})
        answer = await rig.obs.wait_for(EVENTS, lambda m: m.json.get("id") == "r1")
        assert answer.json["kind"] == "applied"
        state = await rig.obs.wait_for(STATE, lambda m: m.json["overrides"] == {})
        assert (state.json["mode"], state.json["threshold"]) == ("auto", 5000)
    left = in_file(tmp_path)
    assert (left.mode, left.threshold, left.confirm, left.release) == (None, None, None, None)


@pytest.mark.parametrize("value", [1, "true", False, "yes"])
async def test_reset_takes_only_a_json_true(
    own_broker: Broker, tmp_path: Path, value: object
) -> None:
    saved(tmp_path, Memory(threshold=3000))
    async with controller_rig(own_broker, tmp_path) as rig:
        await rig.obs.publish("wattbus/controller/set", {"reset": value, "id": "r1"})
        answer = await rig.obs.wait_for(EVENTS, lambda m: m.json.get("id") == "r1")
        assert answer.json["kind"] == "rejected"
        assert "reset" in answer.json["reason"]
    assert in_file(tmp_path).threshold == 3000


def test_config_check_shows_what_is_saved_at_run_time(tmp_path: Path) -> None:
    env = {"WATTBUS_CONTROLLER_STATE_DIR": str(tmp_path)}
    empty = wattbus("config", "check", "controller", env=env, cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert f"no values saved at run time in {tmp_path / FILE_NAME}" in empty.stdout.splitlines()
    saved(tmp_path, Memory(threshold=3000))
    result = wattbus("config", "check", "controller", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert SAVED_THRESHOLD in result.stdout.splitlines()


async def test_wattbus_reset_sends_it_and_waits_for_the_answer(
    own_broker: Broker, tmp_path: Path
) -> None:
    saved(tmp_path, Memory(threshold=3000))
    env = bus_env(own_broker.port, "cli", password("cli"))
    async with controller_rig(own_broker, tmp_path) as rig:
        await rig.obs.wait_for(STATE)
        result = await asyncio.to_thread(wattbus, "reset", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        await rig.obs.wait_for(STATE, lambda m: m.json["overrides"] == {})
    assert in_file(tmp_path).threshold is None


def test_a_saved_value_now_out_of_range_is_dropped_and_the_rest_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A threshold of 1 W that a `{"threshold": true}` saved before commands were strict would
    hold the battery at almost any load, forever; it gives way to the configured setting, and
    the holds the controller must still release stay remembered."""
    path = tmp_path / FILE_NAME
    path.write_text('{"threshold": 1.0, "mode": "pause", "asserted": ["zendure"]}')
    memory = load(path)
    assert memory.threshold is None
    assert memory.mode is ControllerMode.PAUSE
    assert memory.asserted == frozenset({"zendure"})
    assert "dropping the saved threshold 1.0" in caplog.text
