"""The real client, pypowerwall in local mode, against the fake gateway over TLS: readings in
wattbus units, a wrong password, writes read back, a dropped half written again, a 403."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.powerwall import local_gateway
from wattbus.models import HoldRoute
from wattbus_powerwall.client import WRITE_ATTEMPTS, Gateway
from wattbus_powerwall.exceptions import (
    GatewayConnectionError,
    InvalidAuthError,
    NotAppliedError,
    WriteRefusedError,
)
from wattbus_powerwall.models import Settings
from wattbus_powerwall.port import PowerwallPort
from wattbus_simulator.fake_powerwall import FakePowerwall, PowerwallState

# the fake gateway's certificate is self-signed, and pypowerwall does not verify it
pytestmark = pytest.mark.filterwarnings("ignore:Unverified HTTPS request")

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
HELD = Settings("backup", 100.0)


async def test_a_reading_arrives_in_wattbus_units_and_signs(
    gateway: Gateway, state: PowerwallState
) -> None:
    state.load, state.solar = 2500.0, 500.0
    reading = await gateway.read()
    battery = reading.battery_state(NOW)
    assert (battery.soc, battery.power, battery.pv_power) == (60.0, -2000.0, 500.0)
    assert (battery.site_power, battery.load_power) == (0.0, 2500.0)
    assert (battery.reserve, battery.operation) == (20.0, "self_consumption")
    # the EV guard's house power adds what it gives the home: a car it covers still shows
    assert (battery.output_home_power, battery.grid_input_power) == (2000.0, 0.0)
    assert (await gateway.status()).din == state.din
    assert await gateway.site_name() == "My Home"


async def test_each_reading_is_the_gateways_now_not_pypowerwalls_cache(
    gateway: Gateway, state: PowerwallState
) -> None:
    assert (await gateway.read()).battery_state(NOW).power == -1500.0
    state.load = 3000.0
    assert (await gateway.read()).battery_state(NOW).power == -3000.0


async def test_a_wrong_password_is_invalid_auth_on_every_read(
    fake: FakePowerwall, tmp_path: Path
) -> None:
    async with local_gateway(fake, tmp_path, password="WRONG") as gw:
        await gw.connect()
        for _ in range(2):
            with pytest.raises(InvalidAuthError, match="WATTBUS_POWERWALL_PASSWORD"):
                await gw.read()
    assert fake.state.logins == 0


async def test_a_gateway_that_is_gone_is_a_connection_error(
    fake: FakePowerwall, gateway: Gateway
) -> None:
    await gateway.read()
    await fake.close()
    with pytest.raises(GatewayConnectionError):
        await gateway.read()


async def test_a_write_is_read_back(gateway: Gateway, state: PowerwallState) -> None:
    await gateway.write(Settings("self_consumption", 30.0))
    assert state.backup_reserve_percent == pytest.approx(33.5)  # raw: 30 % * 0.95 + 5 %
    assert state.posted == [{"backup_reserve_percent": 33.5, "real_mode": "self_consumption"}]
    assert await gateway.settings() == Settings("self_consumption", 30.0)


async def test_settings_the_gateway_has_already_are_not_written(
    gateway: Gateway, state: PowerwallState
) -> None:
    await gateway.write(Settings("self_consumption", 20.0))
    assert state.posted == []


@pytest.mark.parametrize("part", ["real_mode", "backup_reserve_percent"])
async def test_a_dropped_half_of_a_write_is_written_again_until_it_reads_back(
    gateway: Gateway, state: PowerwallState, part: str
) -> None:
    state.drop = [part, part]  # type: ignore[list-item]
    await gateway.write(HELD)
    assert (state.real_mode, state.backup_reserve_percent) == ("backup", 100.0)
    assert len(state.posted) == 3


async def test_a_write_that_never_reads_back_is_not_applied(
    gateway: Gateway, state: PowerwallState
) -> None:
    state.drop = ["real_mode"] * WRITE_ATTEMPTS
    with pytest.raises(NotAppliedError, match="reads back operation self_consumption"):
        await gateway.write(HELD)
    assert len(state.posted) == WRITE_ATTEMPTS


async def test_a_write_refused_403_names_the_routes_that_write_and_changes_nothing(
    gateway: Gateway, state: PowerwallState
) -> None:
    state.writes = "refused"
    with pytest.raises(WriteRefusedError, match=r"403.*fleetapi or cloud.*v1r"):
        await gateway.write(HELD)
    assert len(state.posted) == 1  # refused once, not retried
    assert await gateway.settings() == Settings("self_consumption", 20.0)


async def test_held_is_backup_with_the_routes_highest_reserve(
    gateway: Gateway, state: PowerwallState
) -> None:
    port = PowerwallPort(gateway)
    assert port.held == HELD
    assert dict(port.routes) == {HoldRoute.BACKUP: {"operation": "backup", "reserve": 100.0}}
    assert not port.looks_held(await port.read(), HoldRoute.BACKUP)
    await port.write({"operation": "backup", "reserve": 100.0}, None)
    assert port.looks_held(await port.read(), HoldRoute.BACKUP)
    assert not port.looks_held(Settings("backup", 80.0), HoldRoute.BACKUP)
    assert not port.looks_held(Settings("self_consumption", 100.0), HoldRoute.BACKUP)


async def test_one_setting_written_alone_keeps_the_other_as_the_gateway_has_it(
    gateway: Gateway, state: PowerwallState
) -> None:
    """How the hold writes a restore the gateway refused as a whole: one at a time."""
    await PowerwallPort(gateway).write({"reserve": 50.0}, None)
    assert (state.real_mode, state.backup_reserve_percent) == ("self_consumption", 52.5)


def test_the_remote_routes_hold_at_80_percent(tmp_path: Path) -> None:
    """Built, never connected: nothing leaves the machine."""
    cloud = Gateway("cloud", email="me@example.com", state_dir=tmp_path, cachefile=tmp_path / "c")
    assert PowerwallPort(cloud).held == Settings("backup", 80.0)
    assert PowerwallPort(cloud).looks_held(Settings("backup", 80.0), HoldRoute.BACKUP)


async def test_a_reserve_beyond_the_route_is_refused_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    """As Tesla would refuse it: a restore of such a value then ends in its fallback."""
    cloud = Gateway("cloud", email="me@example.com", state_dir=tmp_path, cachefile=tmp_path / "c")
    with pytest.raises(WriteRefusedError, match="0-80 %, not 100 %"):
        await cloud.write(Settings("self_consumption", 100.0))
