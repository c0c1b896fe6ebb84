"""The Powerwall tests' client: pypowerwall in local mode, pointed at a fake gateway on
loopback, with its login cache in the test's own folder."""

from __future__ import annotations

from pathlib import Path

from wattbus_powerwall.client import Gateway
from wattbus_simulator.fake_powerwall import FakePowerwall

PASSWORD = "ABCDE"  # the fake's customer password (PowerwallState's default)


def local_gateway(fake: FakePowerwall, folder: Path, password: str = PASSWORD) -> Gateway:
    return Gateway(
        "local",
        host=fake.host_and_port,
        password=password,
        state_dir=folder,
        cachefile=folder / "powerwall.login.json",
    )
