"""The Kraken bridge's tests: the fake API on loopback with a clock the tests move, and
settings that always name the fake's URL, never a supplier's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from support.clock import FakeClock
from wattbus_kraken.settings import KrakenSettings
from wattbus_simulator.fake_kraken import FakeAccount, FakeKraken, start_fake_kraken

# a summer morning (BST), well clear of :00 and :30
T0 = datetime(2026, 6, 10, 9, 5, tzinfo=UTC)
ACCOUNT = "A-1234ABCD"
API_KEY = "sk_live_fake0000"
EMAIL = "owner@example.invalid"
PASSWORD = "correct horse"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeKraken]:
    """Octopus, with one account and a car; no dispatches planned yet."""
    fake = await start_fake_kraken(clock=clock.now)
    fake.add_account(ACCOUNT, api_key=API_KEY)
    try:
        yield fake
    finally:
        await fake.close()


@pytest.fixture
async def eon(clock: FakeClock) -> AsyncIterator[FakeKraken]:
    fake = await start_fake_kraken(clock=clock.now, supplier="eon")
    fake.add_account(ACCOUNT, email=EMAIL, password=PASSWORD)
    try:
        yield fake
    finally:
        await fake.close()


def account(fake: FakeKraken) -> FakeAccount:
    return fake.accounts[ACCOUNT]


def settings(fake: FakeKraken, state_dir: Path, **values: Any) -> KrakenSettings:
    """The bridge's settings for `fake`: its URL always, so no test can reach a supplier."""
    given: dict[str, Any] = {"supplier": fake.supplier, "account": ACCOUNT,
                             "state_dir": state_dir}  # fmt: skip
    if fake.supplier == "octopus":
        given["api_key"] = API_KEY
    else:
        given |= {"email": EMAIL, "password": PASSWORD}
    return KrakenSettings.only(**given | values | {"url": fake.endpoint})
