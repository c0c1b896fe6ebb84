"""Smappee bridge settings (env prefix `WATTBUS_SMAPPEE_`).

The API's client id and secret (asked of Smappee support) and the owner's login have no
default. The base URL defaults to Smappee's own, the one setting here that points off the
LAN: the tests and the demo always set it to their fake. Secrets may come from files
(`WATTBUS_SMAPPEE_CLIENT_SECRET_FILE`, `..._PASSWORD_FILE`)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr
from pydantic_core import PydanticCustomError
from pydantic_settings import SettingsConfigDict
from wattbus.settings import DeviceId, ServiceSettings

BASE_URL = "https://app1pub.smappee.net/dev/v3"
POLL_INTERVAL = 30.0  # s: a new 5-minute block is seen at most this long after it appears
URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")


def _url(value: str) -> str:
    if not URL.fullmatch(value):
        raise PydanticCustomError("url", "Input should be an http(s) URL, e.g. " + BASE_URL)
    return value.rstrip("/")


class SmappeeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_SMAPPEE_")

    id: DeviceId = "smappee"
    name: str | None = Field(None, min_length=1, max_length=64)
    client_id: str = Field(min_length=1, description="the API client id Smappee gave")
    client_secret: SecretStr = Field(description="the API client secret Smappee gave")
    username: str = Field(min_length=1, description="the owner's Smappee login")
    password: SecretStr
    # unset: the only one the login sees (the bridge stops with a list if there are several)
    service_location: int | None = Field(None, ge=1)
    url: Annotated[str, AfterValidator(_url)] = BASE_URL
    poll_interval: float = Field(POLL_INTERVAL, ge=5.0, le=300, allow_inf_nan=False)
