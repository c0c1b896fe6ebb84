"""Shelly bridge settings (env prefix `WATTBUS_SHELLY_`). The host has no default."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from wattbus.settings import ServiceSettings

from wattbus_shelly.client import DEFAULT_PORT
from wattbus_shelly.gen1 import DEFAULT_USERNAME


class ShellySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_SHELLY_")

    id: str = "grid-meter"
    host: str = Field(min_length=1)
    port: int = DEFAULT_PORT
    generation: Literal["auto", "1", "2"] = Field(
        "auto", description="auto: ask the device's /shelly at start; 1: Gen1 3EM; 2: Pro 3EM"
    )
    username: str = Field(
        DEFAULT_USERNAME, min_length=1, description="Gen1 only; Gen2+ always uses admin"
    )
    password: SecretStr | None = None
    poll_interval: float = Field(1.0, ge=1.0, description="s between readings")
