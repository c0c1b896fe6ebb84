"""Zendure bridge settings (env prefix `WATTBUS_ZENDURE_`). The host has no default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from wattbus.settings import ServiceSettings

from wattbus_zendure.client import DEFAULT_PORT


class ZendureSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_ZENDURE_")

    id: str = "zendure"
    host: str = Field(min_length=1)
    port: int = DEFAULT_PORT
    poll_interval: float = Field(2.0, ge=1.0, description="s between reports")
    default_lease: float = Field(300.0, gt=0, description="s for a hold sent without a lease")
    state_dir: Path = Path("var")
    # minSoc 100 % is never a user's own value (zenSDK documents 0-50 %): found on a device
    # with no saved record, it is a hold someone lost, and 10 % gives the battery back
    fallback_min_soc: float | None = Field(10.0, ge=0, le=100)
    fallback_output_limit: float | None = Field(None, ge=0)
