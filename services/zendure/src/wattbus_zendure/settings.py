"""Zendure bridge settings (env prefix `WATTBUS_ZENDURE_`). The host has no default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from wattbus.models import Lease, Watts
from wattbus.settings import DeviceId, Host, Port, ServiceSettings

from wattbus_zendure.client import DEFAULT_PORT

FALLBACK_MIN_SOC_MAX = 50.0  # %, the top of zenSDK's documented minSoc range


class ZendureSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_ZENDURE_")

    id: DeviceId = "zendure"
    # what Home Assistant calls the unit ("Garage battery"); by default its model's name
    name: str | None = Field(None, min_length=1, max_length=64)
    host: Host
    port: Port = DEFAULT_PORT
    poll_interval: float = Field(2.0, ge=1.0, description="s between reports")
    default_lease: Lease = Field(300.0, description="s for a hold sent without a lease")
    state_dir: Path = Path("var")
    # minSoc 100 % is never a user's own value (zenSDK documents 0-50 %): found on a device
    # with no saved record, it is a hold someone lost, and 10 % gives the battery back. The
    # fallback itself stays in the documented range: at 100 % it would be a hold for good.
    fallback_min_soc: float | None = Field(10.0, ge=0, le=FALLBACK_MIN_SOC_MAX)
    # at least 1 W: outputLimit 0 (the unit works in whole watts) is what a hold by output
    # limit looks like, so a restore ending in it would leave the battery held for good
    fallback_output_limit: Watts | None = Field(None, ge=1)
