"""SolarEdge bridge settings (env prefix `WATTBUS_SOLAREDGE_`).

The meter, the battery and the inverter are three devices on the bus, each with its own MQTT
connection (its own availability and last will), and a bridge's MQTT user is its device id: the
meter logs in with `WATTBUS_MQTT_USERNAME`/`_PASSWORD` (set to the meter's id), the battery and
the inverter as their own ids with `WATTBUS_SOLAREDGE_BATTERY_MQTT_PASSWORD` and
`WATTBUS_SOLAREDGE_INVERTER_MQTT_PASSWORD`."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from wattbus.settings import DeviceId, Host, Port, ServiceSettings, field_error

from wattbus_solaredge.client import DEFAULT_PORT, DEFAULT_UNIT


class SolarEdgeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_SOLAREDGE_")

    host: Host = Field(description="the inverter's address on the LAN")
    port: Port = DEFAULT_PORT
    unit: int = Field(DEFAULT_UNIT, ge=1, le=247, description="the inverter's Modbus device id")
    meter: int = Field(1, ge=1, le=3, description="which of the inverter's meters is at the grid")
    meter_id: DeviceId = "solaredge-meter"
    battery: int = Field(1, ge=0, le=2, description="which StorEdge battery; 0: none")
    battery_id: DeviceId = "solaredge-battery"
    battery_mqtt_password: SecretStr | None = Field(
        None, description="the battery's MQTT login (user: its id), where the broker has logins"
    )
    inverter: bool = Field(True, description="publish the inverter itself; 0: not")
    inverter_id: DeviceId = "solaredge-inverter"
    inverter_mqtt_password: SecretStr | None = Field(
        None, description="the inverter's MQTT login (user: its id), where the broker has logins"
    )
    poll_interval: float = Field(1.0, ge=1.0, description="s between readings")

    @model_validator(mode="after")
    def _own_ids(self) -> Self:
        """Each device its own id: one id is one MQTT login, and a second connection with it
        pushes the first off the broker."""
        if self.battery and self.battery_id == self.meter_id:
            raise field_error("SolarEdgeSettings", "battery_id", "must differ from meter_id")
        taken = {self.meter_id, *([self.battery_id] if self.battery else [])}
        if self.inverter and self.inverter_id in taken:
            message = "must differ from meter_id and battery_id"
            raise field_error("SolarEdgeSettings", "inverter_id", message)
        return self
