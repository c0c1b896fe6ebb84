"""The real client and account reader against the fake Kraken over HTTP on loopback: both
suppliers' logins, token renewal, refused credentials against throttling, and the fallback
from flex to the older planned query."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest
from support.clock import FakeClock
from wattbus.models import DispatchKind
from wattbus_kraken.account import KrakenAccount
from wattbus_kraken.client import ApiKey, Credentials, EmailLogin, KrakenClient
from wattbus_kraken.documents import COMPLETED, DEVICES, FLEX_PLANNED, PLANNED
from wattbus_kraken.exceptions import (
    AccountNotFoundError,
    AuthFailedError,
    KrakenConnectionError,
    ThrottledError,
    TokenRejectedError,
)
from wattbus_simulator.fake_kraken import DEVICE_ID, FakeDispatch, FakeKraken, Throttle

from .conftest import ACCOUNT, API_KEY, EMAIL, PASSWORD, T0, account


@asynccontextmanager
async def client_for(
    fake: FakeKraken, clock: FakeClock, credentials: Credentials | None = None
) -> AsyncIterator[tuple[KrakenClient, list[datetime]]]:
    counted: list[datetime] = []
    given = credentials or (
        ApiKey(API_KEY) if fake.supplier == "octopus" else EmailLogin(EMAIL, PASSWORD)
    )
    async with KrakenClient(
        fake.endpoint, given, clock=clock.now, on_request=counted.append
    ) as client:
        yield client, counted


def plan(fake: FakeKraken, *dispatches: tuple[int, int, str]) -> None:
    """Dispatches `(start, end, type)` in minutes from T0."""
    account(fake).planned = [
        FakeDispatch(T0 + timedelta(minutes=a), T0 + timedelta(minutes=b), kind)
        for a, b, kind in dispatches
    ]


async def test_octopus_logs_in_with_its_api_key(fake: FakeKraken, clock: FakeClock) -> None:
    async with client_for(fake, clock) as (client, counted):
        answer = await client.query([DEVICES], {"accountNumber": ACCOUNT})
    assert answer.data[DEVICES][0]["id"] == DEVICE_ID
    assert [c.operation for c in fake.calls] == ["login", "query"]
    assert counted == [T0, T0]  # every request, the login too
    assert client.token is not None and client.token.expires == T0 + timedelta(hours=1)


async def test_eon_logs_in_with_email_and_password(eon: FakeKraken, clock: FakeClock) -> None:
    async with client_for(eon, clock) as (client, _):
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
    assert eon.count("login") == 1
    assert client.token is not None and client.token.refresh_token


async def test_the_token_is_refreshed_five_minutes_before_it_ends(
    fake: FakeKraken, clock: FakeClock
) -> None:
    async with client_for(fake, clock) as (client, _):
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
        clock.advance(54 * 60)
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
        assert fake.count("refresh") == 0
        clock.advance(60)
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
    assert [c.operation for c in fake.calls] == ["login", "query", "query", "refresh", "query"]
    assert fake.count("login") == 1


async def test_a_refused_refresh_token_logs_in_again(fake: FakeKraken, clock: FakeClock) -> None:
    async with client_for(fake, clock) as (client, counted):
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
        fake.faults.refuse_refresh = True
        clock.advance(56 * 60)
        assert client.token_requests(clock.now()) == 1
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
    assert [c.operation for c in fake.calls] == ["login", "query", "refresh", "login", "query"]
    assert len(counted) == 5


async def test_an_expired_token_is_dropped_and_the_next_query_logs_in(
    fake: FakeKraken, clock: FakeClock
) -> None:
    async with client_for(fake, clock) as (client, _):
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
        fake.revoke_tokens()
        with pytest.raises(TokenRejectedError):
            await client.query([DEVICES], {"accountNumber": ACCOUNT})
        assert client.token is None
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
    assert fake.count("login") == 2


@pytest.mark.parametrize(
    ("supplier", "credentials"),
    [("octopus", ApiKey("sk_live_wrong")), ("eon", EmailLogin(EMAIL, "wrong"))],
)
async def test_refused_credentials_are_an_auth_failure(
    supplier: str, credentials: Credentials, fake: FakeKraken, eon: FakeKraken,
    clock: FakeClock,
) -> None:  # fmt: skip
    api = fake if supplier == "octopus" else eon
    async with client_for(api, clock, credentials) as (client, _):
        with pytest.raises(AuthFailedError) as failed:
            await client.query([DEVICES], {"accountNumber": ACCOUNT})
    assert failed.value.code == "auth_failed"
    assert failed.value.kraken_code in ("KT-CT-1139", "KT-CT-1138")
    assert client.token is None


@pytest.mark.parametrize("throttle", ["KT-CT-1199", "429", "403"])
async def test_throttling_is_not_an_auth_failure_and_keeps_the_token(
    throttle: Throttle, fake: FakeKraken, clock: FakeClock
) -> None:
    async with client_for(fake, clock) as (client, _):
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
        token = client.token
        fake.faults.throttle = throttle
        with pytest.raises(ThrottledError):
            await client.query([DEVICES], {"accountNumber": ACCOUNT})
        assert client.token == token
        fake.faults.throttle = None
        await client.query([DEVICES], {"accountNumber": ACCOUNT})
    assert fake.count("login") == 1


async def test_throttled_login_is_throttling_too(fake: FakeKraken, clock: FakeClock) -> None:
    fake.faults.throttle = "KT-CT-1199"
    async with client_for(fake, clock) as (client, _):
        with pytest.raises(ThrottledError):
            await client.query([DEVICES], {"accountNumber": ACCOUNT})


async def test_an_account_not_the_logins_is_account_not_found(
    fake: FakeKraken, clock: FakeClock
) -> None:
    async with client_for(fake, clock) as (client, _):
        with pytest.raises(AccountNotFoundError):
            await client.query([DEVICES, COMPLETED], {"accountNumber": "A-0000FFFF"})


async def test_an_api_that_is_gone_is_unreachable(clock: FakeClock) -> None:
    fake = FakeKraken(clock=clock.now)
    await fake.start()
    endpoint = fake.endpoint
    await fake.close()
    async with KrakenClient(endpoint, ApiKey(API_KEY), clock=clock.now) as client:
        with pytest.raises(KrakenConnectionError):
            await client.login()


@pytest.fixture
async def reader(fake: FakeKraken, clock: FakeClock) -> AsyncIterator[KrakenAccount]:
    async with KrakenClient(fake.endpoint, ApiKey(API_KEY), clock=clock.now) as client:
        yield KrakenAccount(client, ACCOUNT)


async def test_a_poll_is_one_request_and_learns_the_device(
    fake: FakeKraken, reader: KrakenAccount
) -> None:
    plan(fake, (60, 100, "SMART"))
    first = await reader.read(T0, spare=5)
    assert first.source == "planned"  # the device was not known yet
    assert first.device_id == DEVICE_ID and first.device_state == "SMART_CONTROL_CAPABLE"
    second = await reader.read(T0, spare=5)
    assert second.source == "flex"
    assert second.planned is not None and [d.kind for d in second.planned] == [DispatchKind.SMART]
    assert [c.fields for c in fake.calls if c.operation == "query"] == [
        (DEVICES, PLANNED, COMPLETED), (DEVICES, FLEX_PLANNED, COMPLETED)]  # fmt: skip


async def test_flex_failing_falls_back_to_planned_dispatches(
    fake: FakeKraken, reader: KrakenAccount, clock: FakeClock
) -> None:
    plan(fake, (60, 100, "SMART"), (120, 150, "BOOST"))
    await reader.read(T0, spare=5)  # learns the device
    fake.faults.flex_error = "KT-CT-4340"
    now = clock.now()
    got = await reader.read(now, spare=1)
    assert got.source == "planned"
    assert got.planned is not None and {d.kind for d in got.planned} == {
        DispatchKind.SMART, DispatchKind.BOOST}  # fmt: skip
    assert fake.calls[-1].fields == (PLANNED,)  # asked at once
    # no room in the budget: the poll brings no plan, and the next asks the older query
    fake.calls.clear()
    assert (await reader.read(now, spare=0)).source == "planned"
    assert [c.fields for c in fake.calls] == [(DEVICES, PLANNED, COMPLETED)]
    # an hour later flex is tried again
    fake.faults.flex_error = None
    later = await reader.read(now + timedelta(hours=1), spare=0)
    assert later.source == "flex"


async def test_flex_failing_without_room_brings_no_plan(
    fake: FakeKraken, reader: KrakenAccount
) -> None:
    await reader.read(T0, spare=5)
    fake.faults.flex_error = "KT-CT-4340"
    got = await reader.read(T0, spare=0)
    assert got.planned is None and got.source is None
    assert got.completed == []  # the other fields still came


async def test_a_failing_field_keeps_the_others(fake: FakeKraken, reader: KrakenAccount) -> None:
    plan(fake, (60, 100, "SMART"))
    await reader.read(T0, spare=5)
    fake.faults.field_errors["completedDispatches"] = "KT-CT-9999"
    got = await reader.read(T0, spare=5)
    assert got.completed is None
    assert got.planned is not None and len(got.planned) == 1
    assert got.device_state == "SMART_CONTROL_CAPABLE"


async def test_an_ended_dispatch_moves_to_completed_as_on_kraken(
    fake: FakeKraken, reader: KrakenAccount, clock: FakeClock
) -> None:
    plan(fake, (10, 20, "SMART"))
    await reader.read(T0, spare=5)
    clock.advance(25 * 60)
    got = await reader.read(clock.now(), spare=5)
    assert got.planned == []
    assert got.completed is not None and len(got.completed) == 1
    assert got.completed[0].energy == 3500.0
