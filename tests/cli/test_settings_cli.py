"""Bad settings as a user meets them: `config check` and `run` refuse the same values, each with
exit code 2 and one line naming the variable; what `config check` accepts, `run` starts with.
Every run is a real `wattbus` process with its own environment and an empty working directory,
so no user's `.env` (and no developer's environment) is read."""

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
from wattbus_simulator.processes import ServiceProcess, bus_env

STARTED = 20.0  # s for a started service to publish its state
REFUSED = 30.0  # s for a process with bad settings to exit (it used to run on, or hang)

DEVICE = {"WATTBUS_SHELLY_HOST": "127.0.0.1", "WATTBUS_ZENDURE_HOST": "127.0.0.1"}
BAD = [
    ("controller", "WATTBUS_LOG_LEVEL", "LOUD"),
    ("controller", "WATTBUS_MQTT_CA_FILE", "/nonexistent/ca.pem"),  # with TLS on, below
    ("controller", "WATTBUS_MQTT_PORT", "0"),
    ("controller", "WATTBUS_MQTT_PORT", "99999"),
    ("controller", "WATTBUS_MQTT_HOST", "mqtt://x"),
    ("controller", "WATTBUS_MQTT_HOST", "http://127.0.0.1"),
    ("controller", "WATTBUS_TOPIC_PREFIX", "wattbus/#"),
    ("shelly", "WATTBUS_SHELLY_ID", "zen+"),
    ("shelly", "WATTBUS_SHELLY_HOST", "http://127.0.0.1:8080"),
    ("zendure", "WATTBUS_ZENDURE_ID", "a/b"),
    ("zendure", "WATTBUS_ZENDURE_ID", "#"),
    ("zendure", "WATTBUS_ZENDURE_FALLBACK_MIN_SOC", "100"),
    ("controller", "WATTBUS_CONTROLLER_BATTERIES", ""),
    ("controller", "WATTBUS_CONTROLLER_BATTERIES", '["a", 1]'),
    ("controller", "WATTBUS_CONTROLLER_BATTERIES", "zendure,zendure"),
    ("controller", "WATTBUS_CONTROLLER_BATTERIES", "grid-meter"),
    ("controller", "WATTBUS_CONTROLLER_METER", "zendure"),  # a battery's id
    ("controller", "WATTBUS_CONTROLLER_CONFIRM", "1e-9"),
    ("controller", "WATTBUS_CONTROLLER_RELEASE", "0.0001"),
    ("controller", "WATTBUS_CONTROLLER_THRESHOLD", "0"),
    ("controller", "WATTBUS_CONTROLLER_CHEAP_HOURS", "midnight"),
    ("controller", "WATTBUS_CONTROLLER_TIMEZONE", "Mars/Olympus"),
    ("controller", "WATTBUS_CONTROLLER_DISPATCH_BATTERIES", "powerwall"),
    # dispatch invites
    ("controller", "WATTBUS_CONTROLLER_SMTP_HOST", "smtp://mail.home.test"),
    ("controller", "WATTBUS_CONTROLLER_SMTP_PORT", "0"),
    ("controller", "WATTBUS_CONTROLLER_SMTP_SECURITY", "ssl"),
    ("controller", "WATTBUS_CONTROLLER_INVITE_TO", "owner"),
    ("controller", "WATTBUS_CONTROLLER_INVITE_FROM", "wattbus at home"),
    ("controller", "WATTBUS_CONTROLLER_CHEAP_RATE", "cheap"),
    ("controller", "WATTBUS_CONTROLLER_STANDARD_RATE", "-1"),
]


def wattbus(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("WATTBUS_")}
    return subprocess.run(
        [sys.executable, "-m", "wattbus", *args],
        env=clean | env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.mark.parametrize("command", [("config", "check"), ("run",)], ids=["check", "run"])
@pytest.mark.parametrize(("service", "variable", "value"), BAD)
def test_a_bad_value_exits_2_with_one_line_naming_it(
    tmp_path: Path, command: tuple[str, ...], service: str, variable: str, value: str
) -> None:
    tls = {"WATTBUS_MQTT_TLS": "true"} if variable == "WATTBUS_MQTT_CA_FILE" else {}
    env = DEVICE | tls | {variable: value}
    # the broker named here is never reached: the settings stop the process first
    result = wattbus(*command, service, env=env, cwd=tmp_path, timeout=REFUSED)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"wattbus: {service}: {variable} "), lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_bad_value_in_dotenv_is_named_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WATTBUS_MQTT_PORT=99999\n")
    result = wattbus("run", "controller", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("wattbus: controller: WATTBUS_MQTT_PORT ")


def test_a_misspelt_variable_is_named_with_its_likely_meaning(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WATTBUS_ZENDURE_POL_INTERVAL=5\nWATTBUS_MQTT_HOTS=x\n")
    env = DEVICE | {"WATTBUS_SHELLY_POLL_INTRVAL": "3", "WATTBUS_SHELY_HOST": "x"}
    shelly = wattbus("config", "check", "shelly", env=env, cwd=tmp_path)
    assert shelly.returncode == 0, shelly.stderr
    [warning] = shelly.stderr.strip().splitlines()
    assert warning.startswith("wattbus: shelly: warning: ")
    for wrong, meant in [
        ("SHELLY_POLL_INTRVAL", "SHELLY_POLL_INTERVAL"),
        ("MQTT_HOTS", "MQTT_HOST"),
    ]:
        assert f"WATTBUS_{wrong} (did you mean WATTBUS_{meant}?)" in warning
    assert "WATTBUS_SHELY_HOST" in warning  # a prefix no service has
    # the zendure bridge's misspelling too: `config check` reads every service's settings
    assert "WATTBUS_ZENDURE_POL_INTERVAL (did you mean WATTBUS_ZENDURE_POLL_INTERVAL?)" in warning


@pytest.mark.parametrize("service", [(), ("shelly",)], ids=["alone", "with-a-service"])
def test_config_check_names_a_misspelling_meant_for_any_installed_service(
    tmp_path: Path, service: tuple[str, ...]
) -> None:
    """Before, only the named service's prefix and the bus's were judged, so
    WATTBUS_NRGKICK_HOTS went unnamed unless the nrgkick bridge itself was run."""
    (tmp_path / ".env").write_text("WATTBUS_NRGKICK_HOTS=127.0.0.1\n")
    env = DEVICE | {"WATTBUS_MYENERGI_HUB_SERIL": "1234", "WATTBUS_KRAKEN_ACCOUNT": "A-1234ABCD"}
    result = wattbus("config", "check", *service, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [warning] = result.stderr.strip().splitlines()
    assert warning.startswith("wattbus: " + "".join(f"{s}: " for s in service) + "warning: ")
    assert "WATTBUS_NRGKICK_HOTS (did you mean WATTBUS_NRGKICK_HOST?)" in warning
    assert "WATTBUS_MYENERGI_HUB_SERIL (did you mean WATTBUS_MYENERGI_HUB_SERIAL?)" in warning
    assert "KRAKEN" not in warning  # read by the kraken bridge's settings


def test_config_check_alone_says_when_every_variable_is_read(tmp_path: Path) -> None:
    result = wattbus("config", "check", env=DEVICE, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert "every WATTBUS_* variable is read by a setting" in result.stdout


def test_the_settings_of_other_services_and_file_forms_are_not_misspelt(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("x\n")
    env = DEVICE | {
        "WATTBUS_CONTROLLER_THRESHOLD": "4000",  # another service's, as compose shares .env
        "WATTBUS_SHELLY_PASSWORD_FILE": str(secret),
        "WATTBUS_MQTT_PASSWORD_FILE": str(secret),
        "WATTBUS_IMAGE": "wattbus:1.0",  # compose.yaml's own
    }
    result = wattbus("config", "check", "shelly", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


async def test_what_config_check_accepts_run_starts_with_and_a_misspelling_is_logged(
    own_broker: Broker, tmp_path: Path
) -> None:
    broker = own_broker
    env = bus_env(broker.port, "controller", password("controller")) | {
        "WATTBUS_LOG_LEVEL": "debug",
        "WATTBUS_CONTROLLER_BATTERIES": '["strict-a", "strict-b"]',
        "WATTBUS_CONTROLLER_METER": "strict-meter",
        "WATTBUS_CONTROLLER_TRESHOLD": "4000",
        "WATTBUS_CONTROLLER_STATE_DIR": str(tmp_path / "state"),
    }
    checked = await asyncio.to_thread(
        wattbus, "config", "check", "controller", env=env, cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stderr
    controller = ServiceProcess("controller", env, tmp_path)
    async with observer(broker) as obs:
        controller.start()
        try:
            state = await obs.wait_for(
                "wattbus/controller/state",
                lambda m: m.json.get("meter") == "strict-meter",
                within=STARTED,
            )
        finally:
            controller.stop()
    assert state.json["batteries"] == ["strict-a", "strict-b"]
    log = controller.log.read_text()
    assert "did you mean WATTBUS_CONTROLLER_THRESHOLD?" in log
    assert " DEBUG " in log  # the lower-case level was taken, not just accepted


def test_health_needs_to_know_which_service(tmp_path: Path) -> None:
    result = wattbus("health", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "wattbus health <service>" in result.stderr
    assert wattbus("health", "toaster", env={}, cwd=tmp_path).returncode == 2


def test_health_finds_each_services_own_file(tmp_path: Path) -> None:
    """Two services on one host: each has its file in the temp directory, and `wattbus health
    <service>` reads that one."""
    env = {"TMPDIR": str(tmp_path)}
    (tmp_path / "wattbus-zendure.health").touch()
    old = time.time() - 3600
    (tmp_path / "wattbus-shelly.health").touch()
    os.utime(tmp_path / "wattbus-shelly.health", (old, old))
    assert wattbus("health", "zendure", env=env, cwd=tmp_path).returncode == 0
    assert wattbus("health", "shelly", env=env, cwd=tmp_path).returncode == 1
    assert wattbus("health", "controller", env=env, cwd=tmp_path).returncode == 1
    # a container names its file (the image sets WATTBUS_HEALTH_FILE): no name needed
    named = env | {"WATTBUS_HEALTH_FILE": str(tmp_path / "wattbus-zendure.health")}
    assert wattbus("health", env=named, cwd=tmp_path).returncode == 0
