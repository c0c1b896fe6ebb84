"""The fake gateway as pypowerwall's local mode meets it: https only, a customer login, a
battery that follows its mode, reserve and load, and the faults the bridge must survive. Spoken
to with requests, as pypowerwall does, without verifying the self-signed certificate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
from support.powerwall import PASSWORD
from wattbus_simulator.fake_powerwall import FakePowerwall, PowerwallState

# the certificate is self-signed, and pypowerwall does not verify it either
pytestmark = pytest.mark.filterwarnings("ignore:Unverified HTTPS request")


def call(method: str, url: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, url, verify=False, timeout=5, **kwargs)


async def login(fake: FakePowerwall, password: str = PASSWORD) -> requests.Response:
    form = {"username": "customer", "password": password, "email": "me@example.com"}
    return await asyncio.to_thread(call, "POST", f"{fake.url}/api/login/Basic", data=form)


async def test_it_speaks_only_https(fake: FakePowerwall) -> None:
    assert fake.url.startswith("https://127.0.0.1:")
    plain = fake.url.replace("https://", "http://")
    with pytest.raises(requests.ConnectionError):
        await asyncio.to_thread(call, "GET", f"{plain}/api/status")
    status = await asyncio.to_thread(call, "GET", f"{fake.url}/api/status")
    assert status.json()["din"] == fake.state.din


async def test_a_login_gives_the_cookies_and_a_wrong_password_a_401(fake: FakePowerwall) -> None:
    wrong = await login(fake, "WRONG")
    assert wrong.status_code == 401
    assert "AuthCookie" not in wrong.cookies
    good = await login(fake)
    assert good.status_code == 200
    assert {"AuthCookie", "UserRecord"} <= set(good.cookies.keys())
    aggregates = await asyncio.to_thread(
        call, "GET", f"{fake.url}/api/meters/aggregates", cookies=good.cookies
    )
    assert aggregates.status_code == 200
    assert set(aggregates.json()) == {"site", "battery", "load", "solar"}


async def test_readings_need_the_login_and_status_does_not(fake: FakePowerwall) -> None:
    for path in ("/api/operation", "/api/system_status/soe", "/api/meters/aggregates"):
        answer = await asyncio.to_thread(call, "GET", f"{fake.url}{path}")
        assert answer.status_code == 401, path
    assert (await asyncio.to_thread(call, "GET", f"{fake.url}/api/status")).status_code == 200


async def test_a_customer_write_is_refused_403_unless_the_gateway_takes_local_writes(
    fake: FakePowerwall, state: PowerwallState
) -> None:
    cookies = (await login(fake)).cookies
    body = {"real_mode": "backup", "backup_reserve_percent": 100}
    state.writes = "refused"
    refused = await asyncio.to_thread(
        call, "POST", f"{fake.url}/api/operation", json=body, cookies=cookies
    )
    assert refused.status_code == 403
    assert (state.real_mode, state.backup_reserve_percent) == ("self_consumption", 24.0)
    state.writes = "accepted"
    taken = await asyncio.to_thread(
        call, "POST", f"{fake.url}/api/operation", json=body, cookies=cookies
    )
    assert taken.status_code == 200
    assert (state.real_mode, state.backup_reserve_percent) == ("backup", 100.0)


def test_a_dropped_part_of_a_write_is_lost_silently() -> None:
    state = PowerwallState(drop=["real_mode"])
    assert state.set_operation({"real_mode": "backup", "backup_reserve_percent": 100}) is None
    assert (state.real_mode, state.backup_reserve_percent) == ("self_consumption", 100.0)
    assert state.set_operation({"real_mode": "backup", "backup_reserve_percent": 100}) is None
    assert state.real_mode == "backup"


def test_the_battery_covers_the_home_above_its_reserve_and_not_in_backup() -> None:
    state = PowerwallState(load=2000.0, solar=500.0)
    assert state.battery_power() == 1500.0  # discharging, pypowerwall's sign
    assert state.site_power() == 0.0
    state.real_mode = "backup"
    assert state.battery_power() == 0.0
    assert state.site_power() == 1500.0
    state.real_mode = "self_consumption"
    state.soe = state.backup_reserve_percent
    assert state.battery_power() == 0.0
    state.solar = 3000.0
    assert state.battery_power() == -1000.0  # storing the surplus


def test_the_charge_moves_with_the_power_and_stops_at_the_reserve() -> None:
    state = PowerwallState(load=5000.0, soe=25.0, backup_reserve_percent=24.0)
    state.advance(3600)
    assert state.soe == 24.0
    state.solar, state.load = 6350.0, 0.0  # 5 kW stored at most
    state.advance(1800)
    assert state.soe == pytest.approx(24.0 + 2500 / 13500 * 100)


async def test_a_reboot_ends_the_logins_and_drops_a_hold(
    fake: FakePowerwall, state: PowerwallState
) -> None:
    cookies = (await login(fake)).cookies
    state.real_mode, state.backup_reserve_percent = "backup", 100.0
    fake.reboot()
    assert (state.real_mode, state.backup_reserve_percent) == ("self_consumption", 24.0)
    after = await asyncio.to_thread(call, "GET", f"{fake.url}/api/operation", cookies=cookies)
    assert after.status_code == 401
