"""Shelly bridge settings (env prefix `WATTBUS_SHELLY_`). The host has no default."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from wattbus.settings import ServiceSettings

from wattbus_shelly.client import DEFAULT_PORT


class ShellySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_SHELLY_")

    id: str = "grid-meter"
    host: str = Field(min_length=1)
    port: int = DEFAULT_PORT
    password: SecretStr | None = None
    poll_interval: float = Field(1.0, ge=1.0, description="s between readings")
