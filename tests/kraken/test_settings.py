"""Settings: what is required for each supplier, one line naming the variable at fault, and
the supplier's URL only as a default that the tests never use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from wattbus.settings import describe_error
from wattbus_kraken.client import EON_URL, OCTOPUS_URL, ApiKey, EmailLogin
from wattbus_kraken.settings import KrakenSettings
from wattbus_simulator.fake_kraken import FakeKraken

from .conftest import settings


def line(**values: Any) -> str:
    with pytest.raises(ValidationError) as failed:
        KrakenSettings.only(**values)
    return describe_error(failed.value, KrakenSettings)


def test_each_supplier_needs_its_own_credentials() -> None:
    assert line(supplier="octopus", account="A-1234ABCD") == "WATTBUS_KRAKEN_API_KEY is required"
    assert line(supplier="eon", account="A-1234ABCD", email="me@example.invalid") == (
        "WATTBUS_KRAKEN_PASSWORD is required"
    )
    assert "WATTBUS_KRAKEN_ACCOUNT is required" in line(supplier="octopus", api_key="k")
    assert "WATTBUS_KRAKEN_SUPPLIER" in line(supplier="ovo", account="A-1234ABCD")


def test_values_are_checked() -> None:
    base = {"supplier": "octopus", "account": "A-1234ABCD", "api_key": "k"}
    assert "account number" in line(**base | {"account": "1234"})
    assert "WATTBUS_KRAKEN_POLL_INTERVAL" in line(**base | {"poll_interval": 60})
    assert "WATTBUS_KRAKEN_URL" in line(**base | {"url": "api.octopus.energy"})
    s = KrakenSettings.only(**base | {"account": " a-1234abcd "})
    assert s.account == "A-1234ABCD"


def test_the_suppliers_url_is_a_default_for_real_use_only() -> None:
    octopus = KrakenSettings.only(supplier="octopus", account="A-1234ABCD", api_key="k")
    assert octopus.endpoint == OCTOPUS_URL and octopus.credentials == ApiKey("k")
    eon = KrakenSettings.only(
        supplier="eon", account="A-1234ABCD", email="e@x.invalid", password="p"
    )
    assert eon.endpoint == EON_URL and eon.credentials == EmailLogin("e@x.invalid", "p")
    assert "p" not in repr(eon.credentials)


async def test_the_tests_settings_always_name_the_fake(fake: FakeKraken, tmp_path: Path) -> None:
    s = settings(fake, tmp_path, url="https://api.octopus.energy/v1/graphql/")
    assert s.endpoint == fake.endpoint
    assert s.endpoint.startswith("http://127.0.0.1:")
