"""Services as real processes (`wattbus run <name>`), for end-to-end tests and benchmarks:
what runs is exactly what a container runs, and a process can be killed without warning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

STOP_TIMEOUT = 10.0  # s for a process to stop after SIGTERM


def bus_env(port: int, user: str | None = None, password: str | None = None) -> dict[str, str]:
    env = {
        "WATTBUS_MQTT_HOST": "127.0.0.1",
        "WATTBUS_MQTT_PORT": str(port),
        "WATTBUS_LOG_LEVEL": "INFO",
    }
    if user is not None:
        env["WATTBUS_MQTT_USERNAME"] = user
    if password is not None:
        env["WATTBUS_MQTT_PASSWORD"] = password
    return env


def fake_devices_env(shelly_port: int, zendure_port: int, workdir: Path) -> dict[str, str]:
    """The bridges' settings for the fake Shelly and fake Zendure on loopback, with the state
    folders in `workdir`: what every bench and test home runs the services with."""
    return {
        "WATTBUS_SHELLY_HOST": "127.0.0.1",
        "WATTBUS_SHELLY_PORT": str(shelly_port),
        "WATTBUS_ZENDURE_HOST": "127.0.0.1",
        "WATTBUS_ZENDURE_PORT": str(zendure_port),
        "WATTBUS_ZENDURE_STATE_DIR": str(workdir / "zendure-state"),
        "WATTBUS_CONTROLLER_STATE_DIR": str(workdir / "controller-state"),
    }


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / f"{self.name}.log"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
        env.update(self.env)
        env.setdefault("WATTBUS_HEALTH_FILE", str(self.workdir / f"{self.name}.health"))
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wattbus", "run", self.name],
                env=env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean goodbye, as in a crash or a pulled plug."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self.process = None
