"""Kasa/Tapo bridge settings (env prefix `WATTBUS_KASA_`). The host has no default: a plug is
always on the owner's LAN. A login (the TP-Link account's e-mail and password, which Tapo
plugs check) may have its password in a file (`WATTBUS_KASA_PASSWORD_FILE`)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from wattbus.settings import DeviceId, Host, Port, ServiceSettings, field_error

POLL_INTERVAL = 10.0  # s: a plug's relay and meter, read as often as Home Assistant's Kasa does


class KasaSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_KASA_")

    id: DeviceId = "kasa"
    name: str | None = Field(None, min_length=1, max_length=64)
    host: Host = Field(description="the plug's address on the LAN")
    # unset: the protocol's own (9999 for a Kasa plug's legacy protocol, 80 for a Tapo's)
    port: Port | None = None
    # the TP-Link account a Tapo plug was set up with; none for a legacy Kasa plug
    username: str | None = Field(None, min_length=1)
    password: SecretStr | None = None
    poll_interval: float = Field(POLL_INTERVAL, ge=1.0, le=300, allow_inf_nan=False)

    @model_validator(mode="after")
    def _login_whole(self) -> Self:
        if (self.username is None) != (self.password is None):
            message = "a login needs both WATTBUS_KASA_USERNAME and _PASSWORD, or neither"
            raise field_error("KasaSettings", "username", message)
        return self
