"""The Smappee client against the fake cloud over real HTTP: the token, its refresh before it
ends, a login again on a 401, and the waits a 429 or a 5xx asks for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.clock import FakeClock
from wattbus_simulator.fake_smappee import FakeSmappee
from wattbus_smappee.client import BACKOFF_FIRST, Login, SmappeeClient
from wattbus_smappee.exceptions import SmappeeAuthError, SmappeeBusy

from .conftest import START

LOCATION = 12345


async def blocks(client: SmappeeClient, clock: FakeClock) -> int:
    now = clock.now()
    body = await client.consumption(LOCATION, now - timedelta(minutes=20), now)
    return len(body["consumptions"])


async def test_one_login_serves_many_calls(client: SmappeeClient, clock: FakeClock) -> None:
    assert [x["serviceLocationId"] for x in await client.locations()] == [LOCATION]
    for _ in range(3):
        clock.advance(300)
        await blocks(client, clock)
    assert (client.calls["token"], client.calls["refresh"], client.calls["consumption"]) == (
        1,
        0,
        3,
    )


async def test_the_window_answers_the_blocks_that_have_shown(
    client: SmappeeClient, fake: FakeSmappee, clock: FakeClock
) -> None:
    """From 11:40:10 to 12:00:10, with a 60 s delay: the blocks starting 11:45 and 11:50;
    11:40 starts before the window, 11:55 ends at 12:00 and shows only at 12:01."""
    body = await client.consumption(LOCATION, START - timedelta(minutes=20), START)
    starts = [b["timestamp"] for b in body["consumptions"]]
    first = int((START - timedelta(seconds=10, minutes=15)).timestamp() * 1000)
    assert starts == [first, first + 300_000]
    assert body["consumptions"][0] == {"timestamp": first, "consumption": 37.5, "alwaysOn": 10.0}


async def test_a_token_is_refreshed_before_it_ends(
    fake: FakeSmappee, clock: FakeClock, client: SmappeeClient
) -> None:
    await client.locations()
    clock.advance(10 * 3600 - 200)  # inside the last 5 min of a 10 h token
    await client.locations()
    assert (client.calls["token"], client.calls["refresh"]) == (1, 1)


async def test_a_short_token_is_refreshed_at_half_its_life(
    fake: FakeSmappee, clock: FakeClock, client: SmappeeClient
) -> None:
    fake.token_lifetime = timedelta(seconds=60)
    await client.locations()
    clock.advance(29)
    await client.locations()
    clock.advance(2)
    await client.locations()
    assert (client.calls["token"], client.calls["refresh"]) == (1, 1)


async def test_a_refused_refresh_logs_in_again(
    fake: FakeSmappee, clock: FakeClock, client: SmappeeClient
) -> None:
    await client.locations()
    fake._refresh.clear()  # the cloud forgot every refresh token
    clock.advance(10 * 3600)
    await client.locations()
    assert (client.calls["token"], client.calls["refresh"]) == (2, 1)


async def test_a_401_logs_in_again_once(fake: FakeSmappee, client: SmappeeClient) -> None:
    await client.locations()
    fake.revoke_tokens()
    assert await client.locations()
    assert client.calls["token"] == 2
    assert fake.count("/servicelocation") == 3  # the first, the refused one, the retry


@pytest.mark.parametrize(
    ("login", "status"),
    [
        (Login("wattbus", "wrong", "owner", "pass"), 401),
        (Login("wattbus", "secret", "owner", "x"), 400),
    ],
)
async def test_a_wrong_secret_or_login_is_an_auth_error_and_not_retried_each_poll(
    fake: FakeSmappee, clock: FakeClock, login: Login, status: int
) -> None:
    async with SmappeeClient(fake.api, login, clock=clock.now) as client:
        with pytest.raises(SmappeeAuthError, match=f"HTTP {status}"):
            await client.locations()
        clock.advance(30)
        with pytest.raises(SmappeeBusy):
            await client.locations()
    assert fake.count("/oauth2/token") == 1


async def test_a_429_is_honoured_for_its_retry_after(
    fake: FakeSmappee, clock: FakeClock, client: SmappeeClient
) -> None:
    await client.locations()
    fake.fail(429, retry_after=120)
    with pytest.raises(SmappeeBusy, match="429"):
        await client.locations()
    clock.advance(119)
    with pytest.raises(SmappeeBusy, match="wait until"):
        await client.locations()
    assert fake.count("/servicelocation") == 2  # nothing sent while it waits
    clock.advance(1)
    assert await client.locations()


async def test_5xx_backs_off_doubling_and_a_success_resets_it(
    fake: FakeSmappee, clock: FakeClock, client: SmappeeClient
) -> None:
    await client.locations()
    fake.fail(503, count=2)
    with pytest.raises(SmappeeBusy, match="503: waiting 60 s"):
        await client.locations()
    clock.advance(BACKOFF_FIRST.total_seconds())
    with pytest.raises(SmappeeBusy, match="503: waiting 120 s"):
        await client.locations()
    clock.advance(119)
    with pytest.raises(SmappeeBusy):
        await client.locations()
    clock.advance(1)
    assert await client.locations()
    fake.fail(500)
    with pytest.raises(SmappeeBusy, match="500: waiting 60 s"):
        await client.locations()
