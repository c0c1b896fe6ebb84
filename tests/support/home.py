"""A whole home on loopback: fake devices in the test process, the real services as real
processes (`wattbus run ...`) with their own broker users, a private Mosquitto with the ACL."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from wattbus_simulator.fake_shelly import (
    FakeShelly,
)
from wattbus_simulator.fake_zendure import FakeZendure
from wattbus_simulator.processes import ServiceProcess, bus_env, fake_devices_env

from support.broker import Broker, password
from support.mqtt import Msg

LEASE = 10  # s, the shortest the controller allows: the lease test waits for it to run out
# The fake SmartEVSE's prefix: mosquitto/acl lets its user smartevse-garage write under it and
# the bridge's user smartevse read it and write its Set/ topics.
CHARGER_PREFIX = "SmartEVSE/garage"


@dataclass
class Home:
    broker: Broker
    shelly: FakeShelly
    zendure: FakeZendure
    workdir: Path
    procs: dict[str, ServiceProcess] = field(default_factory=dict)

    def set_house_power(self, watts: float) -> None:
        set_house_power(self.shelly, watts)

    def service(self, name: str, **env: str) -> ServiceProcess:
        user = {"shelly": "grid-meter"}.get(name, name)
        settings = bus_env(self.broker.port, user, password(user))
        settings.update(fake_devices_env(self.shelly.port, self.zendure.port, self.workdir))
        settings.update(
            {
                "WATTBUS_ZENDURE_POLL_INTERVAL": "1",
                "WATTBUS_CONTROLLER_CONFIRM": "1",
                "WATTBUS_CONTROLLER_RELEASE": "2",
                "WATTBUS_CONTROLLER_LEASE": str(LEASE),
                "WATTBUS_SMARTEVSE_PREFIX": CHARGER_PREFIX,
                "WATTBUS_SMARTEVSE_STATE_DIR": str(self.workdir / "smartevse-state"),
            }
        )
        settings.update(env)
        proc = ServiceProcess(name, settings, self.workdir)
        self.procs[name] = proc
        proc.start()
        return proc

    def props(self) -> dict[str, int]:
        return self.zendure.state.properties

    def min_soc_writes(self) -> list[int]:
        return [
            int(w["properties"]["minSoc"])
            for w in self.zendure.state.writes
            if "minSoc" in w.get("properties", {})
        ]


def set_house_power(shelly: FakeShelly, watts: float) -> None:
    for phase in shelly.state.phases:
        phase.act_power = watts / 3


def battery_held(m: Msg) -> bool:
    return bool(m.json.get("hold")) and m.json.get("min_soc") == 100.0


def battery_released(m: Msg) -> bool:
    return not m.json.get("hold") and m.json.get("min_soc") != 100.0
