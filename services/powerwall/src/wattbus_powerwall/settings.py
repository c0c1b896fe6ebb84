"""Powerwall bridge settings (env prefix `WATTBUS_POWERWALL_`). No route has a default address:
the local route needs the gateway's host, the remote routes an account set up once."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from wattbus.models import Lease, Operation, Percent
from wattbus.settings import DeviceId, HostAndPort, ServiceSettings, field_error

Route = Literal["local", "fleetapi", "cloud"]

LOCAL_POLL_INTERVAL = 5.0  # s: pypowerwall's own cache lifetime; the gateway is on the LAN
# s: each poll is several calls to Tesla's servers, which throttle (429) clients that ask
# often; peers poll the cloud no faster than every 30 s
REMOTE_POLL_INTERVAL = 30.0
# The most reserve each route takes, app scale: Tesla's cloud and FleetAPI refuse more than 80 %.
MAX_RESERVE: dict[Route, float] = {"local": 100.0, "fleetapi": 80.0, "cloud": 80.0}


class PowerwallSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_POWERWALL_")

    id: DeviceId = "powerwall"
    # what Home Assistant calls it; by default the gateway's site name
    name: str | None = Field(None, min_length=1, max_length=64)
    route: Route = Field("local", description="local gateway, FleetAPI or Tesla's cloud")
    host: HostAndPort | None = Field(None, description="the gateway; required for route local")
    password: SecretStr | None = Field(None, description="the gateway's customer password")
    # the gateway password on its QR sticker, for v1r LAN writes on a Powerwall 3
    gw_pwd: SecretStr | None = None
    rsa_key_path: Path | None = Field(None, description="v1r LAN: the RSA key registered once")
    email: str | None = Field(None, description="the Tesla account, for route cloud")
    # fall back from the route given to the others (local -> FleetAPI -> cloud) when it fails
    failover: bool = False
    poll_interval: float | None = Field(None, ge=1.0, description="s between readings")
    default_lease: Lease = Field(300.0, description="s for a hold sent without a lease")
    # What a release writes when the Powerwall looks held (backup at the route's highest
    # reserve) but no record says what it had: Tesla's own defaults. None: left as it is.
    fallback_operation: Operation | None = "self_consumption"
    fallback_reserve: Percent | None = Field(20.0, description="%, the app's scale")
    # the login cache (local) and the FleetAPI and cloud tokens, which pypowerwall keeps up
    # to date itself; and the hold's record
    state_dir: Path = Path("var")

    @property
    def interval(self) -> float:
        if self.poll_interval is not None:
            return self.poll_interval
        return LOCAL_POLL_INTERVAL if self.route == "local" else REMOTE_POLL_INTERVAL

    @model_validator(mode="after")
    def _route_needs(self) -> Self:
        """Raised on the field at fault, so the one line names its variable."""
        if self.route == "local":
            if self.host is None:
                raise field_error("PowerwallSettings", "host", "Field required", kind="missing")
            if self.password is None and self.gw_pwd is None:
                message = "is required for route local (or WATTBUS_POWERWALL_GW_PWD)"
                raise field_error("PowerwallSettings", "password", message, kind="route")
        elif self.route == "cloud" and not self.email:
            message = "is required for route cloud: the Tesla account's email"
            raise field_error("PowerwallSettings", "email", message, kind="route")
        top = MAX_RESERVE[self.route]
        if self.fallback_reserve is not None and self.fallback_reserve > top:
            message = f"must be at most {top:g} % on route {self.route}, which takes no more"
            raise field_error("PowerwallSettings", "fallback_reserve", message, kind="range")
        held = self.fallback_reserve is None or self.fallback_reserve >= top
        if self.fallback_operation == "backup" and held:
            # a fallback that looks held would be taken for a hold again at the next release
            message = f"backup with a {top:g} % reserve is what a hold looks like"
            raise field_error("PowerwallSettings", "fallback_operation", message, kind="held")
        return self
