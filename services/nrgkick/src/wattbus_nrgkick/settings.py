"""NRGKICK bridge settings (env prefix `WATTBUS_NRGKICK_`). The host has no default: a charger
is always on the owner's LAN. The password may come from a file (`..._PASSWORD_FILE`)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, StringConstraints, model_validator
from pydantic_settings import SettingsConfigDict
from wattbus.settings import DeviceId, HostAndPort, ServiceSettings, field_error

POLL_INTERVAL = 10.0  # s: the least the NRGKICK Home Assistant integration allows
# the Connect's factory password (its settings PUT carries it)
CONNECT_PASSWORD = "0000"

Mac = Annotated[str, StringConstraints(pattern=r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")]


class NrgkickSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_NRGKICK_")

    id: DeviceId = "nrgkick"
    name: str | None = Field(None, min_length=1, max_length=64)
    api: Literal["gen2", "connect"] = Field(
        "gen2", description="gen2: the charger's JSON API; connect: an older NRGKICK's Connect"
    )
    host: HostAndPort = Field(description="the charger (gen2) or the Connect box, host[:port]")
    # gen2: BasicAuth, when it is switched on in the app
    username: str | None = Field(None, min_length=1)
    # gen2: the BasicAuth password; connect: the password its settings PUT carries
    password: SecretStr | None = None
    # connect: the charger's Bluetooth MAC, as the Connect's app shows it
    mac: Mac | None = None
    # connect: the most it may be set to (the Connect does not say; tcoq's manager uses 16)
    max_current: float = Field(16.0, ge=6, le=32, allow_inf_nan=False)
    poll_interval: float = Field(POLL_INTERVAL, ge=1.0, le=300, allow_inf_nan=False)

    @model_validator(mode="after")
    def _api_needs(self) -> Self:
        if self.api == "connect" and self.mac is None:
            raise field_error("NrgkickSettings", "mac", "Field required", kind="missing")
        if self.api == "gen2" and (self.username is None) != (self.password is None):
            message = "BasicAuth needs both WATTBUS_NRGKICK_USERNAME and _PASSWORD, or neither"
            raise field_error("NrgkickSettings", "username", message)
        return self

    @property
    def connect_password(self) -> str:
        return self.password.get_secret_value() if self.password else CONNECT_PASSWORD
