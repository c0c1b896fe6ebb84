"""myenergi bridge settings (env prefix `WATTBUS_MYENERGI_`). The hub serial and the API key
have no default; the key may come from a file (`WATTBUS_MYENERGI_API_KEY_FILE`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, StringConstraints
from pydantic_settings import SettingsConfigDict
from wattbus.settings import DeviceId, Port, ServiceSettings

POLL_INTERVAL = 15.0  # s: myenergi's servers are a shared cloud, and the Zappi updates slowly
POLL_INTERVAL_MIN = 5.0  # s: faster polling gains nothing and risks the account's rate limit

HubSerial = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}$")]


class MyenergiSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_MYENERGI_")

    id: DeviceId = "zappi"
    # what Home Assistant calls the charger; by default "myenergi Zappi"
    name: str | None = Field(None, min_length=1, max_length=64)
    hub_serial: HubSerial = Field(description="the hub's serial number (the digest user)")
    api_key: SecretStr = Field(min_length=1, description="the hub's API key from the myenergi app")
    # the Zappi's serial; none: the hub's only Zappi
    serial: int | None = Field(None, gt=0)
    poll_interval: float = Field(POLL_INTERVAL, ge=POLL_INTERVAL_MIN, allow_inf_nan=False)
    # tests and the demo: every request goes to a fake myenergi on 127.0.0.1:<port>
    loopback_port: Port | None = None
