"""Shelly bridge settings (env prefix `WATTBUS_SHELLY_`). The host has no default: polling needs
one, a device that pushes over MQTT does not."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from wattbus.settings import DeviceId, HostAndPort, Port, ServiceSettings, TopicPrefix, field_error

from wattbus_shelly.client import DEFAULT_PORT
from wattbus_shelly.gen1 import DEFAULT_USERNAME

# s without an em:0 push before the last one stops counting; the device's periodic report
# interval is not documented, so this leaves room for one to be late
MAX_SILENCE = 90.0


class ShellySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_SHELLY_")

    id: DeviceId = "grid-meter"
    source: Literal["poll", "mqtt"] = Field(
        "poll", description="poll: ask the device over HTTP; mqtt: read what it publishes itself"
    )
    host: HostAndPort | None = Field(None, description="required for source poll")
    port: Port = DEFAULT_PORT
    generation: Literal["auto", "1", "2"] = Field(
        "auto", description="auto: ask the device's /shelly at start; 1: Gen1 3EM; 2: Pro 3EM"
    )
    username: str = Field(
        DEFAULT_USERNAME, min_length=1, description="Gen1 only; Gen2+ always uses admin"
    )
    password: SecretStr | None = None
    poll_interval: float = Field(1.0, ge=1.0, description="s between readings")
    mqtt_prefix: TopicPrefix | None = Field(
        None, description="the device's MQTT topic prefix; default shelly/<id>"
    )
    max_silence: float = Field(
        MAX_SILENCE, gt=0, description="s a pushed reading stays good without a new push"
    )

    @property
    def push_prefix(self) -> str:
        return self.mqtt_prefix or f"shelly/{self.id}"

    @model_validator(mode="after")
    def _source_needs(self) -> Self:
        """Raised as errors on the field at fault, so the one-line message names its variable
        (`WATTBUS_SHELLY_HOST is required`) as for any other setting."""
        if self.source == "poll" and self.host is None:
            raise field_error("ShellySettings", "host", "Field required", kind="missing")
        if self.source == "mqtt" and self.generation == "1":
            message = "mqtt reads Gen2+ devices only, not generation 1"
            raise field_error("ShellySettings", "source", message)
        return self
