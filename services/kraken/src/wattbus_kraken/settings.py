"""Kraken bridge settings (env prefix `WATTBUS_KRAKEN_`).

The supplier and the account number have no default, nor do the credentials. The API's URL
defaults to the supplier's own, the one setting here that points off the LAN: the tests and
the demo always set it to their fake.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict
from wattbus.settings import DeviceId, ServiceSettings, field_error

from wattbus_kraken.client import EON_URL, OCTOPUS_URL, ApiKey, Credentials, EmailLogin
from wattbus_kraken.schedule import INTERVAL, MAX_BACKOFF

SUPPLIER_URLS = {"octopus": OCTOPUS_URL, "eon": EON_URL}
ACCOUNT = re.compile(r"[A-Z]-[0-9A-Z]{4,16}")  # A-1234ABCD
URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")


def _account(value: str) -> str:
    value = value.strip().upper()
    if not ACCOUNT.fullmatch(value):
        raise PydanticCustomError("account", "Input should be an account number like A-1234ABCD")
    return value


def _url(value: str) -> str:
    if not URL.fullmatch(value):
        raise PydanticCustomError("url", "Input should be an http(s) URL, e.g. " + OCTOPUS_URL)
    return value


class KrakenSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_KRAKEN_")

    id: DeviceId = "kraken"
    supplier: Literal["octopus", "eon"] = Field(description="octopus: API key; eon: email login")
    account: Annotated[str, AfterValidator(_account)]
    api_key: SecretStr | None = Field(None, description="octopus: the account's API key")
    email: str | None = Field(None, min_length=3, description="eon: the web login's email")
    password: SecretStr | None = Field(None, description="eon: the web login's password")
    url: Annotated[str, AfterValidator(_url)] | None = Field(
        None, description="the GraphQL endpoint; default the supplier's"
    )
    device: str | None = Field(
        None, min_length=1, description="the device id to follow; default the account's car"
    )
    poll_interval: float = Field(
        INTERVAL.total_seconds(),
        ge=INTERVAL.total_seconds(),
        le=MAX_BACKOFF.total_seconds(),
        allow_inf_nan=False,
        description="s between polls; 180 at least, as Octopus asks",
    )
    retention_days: float = Field(30.0, ge=1, le=3650, allow_inf_nan=False)
    state_dir: Path = Path("var")

    @model_validator(mode="after")
    def _credentials_given(self) -> Self:
        """Raised on the field at fault, so the one line names its variable."""
        model = type(self).__name__
        if self.supplier == "octopus" and self.api_key is None:
            raise field_error(model, "api_key", "is required for octopus", kind="missing")
        if self.supplier == "eon":
            for name in ("email", "password"):
                if getattr(self, name) is None:
                    raise field_error(model, name, "is required for eon", kind="missing")
        return self

    @property
    def endpoint(self) -> str:
        return self.url or SUPPLIER_URLS[self.supplier]

    @property
    def credentials(self) -> Credentials:
        if self.supplier == "octopus":
            assert self.api_key is not None
            return ApiKey(self.api_key.get_secret_value())
        assert self.email is not None and self.password is not None
        return EmailLogin(self.email, self.password.get_secret_value())

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.poll_interval)

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)
