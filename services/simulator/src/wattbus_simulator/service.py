"""`wattbus run simulator`: the simulated home on fixed ports, so the real bridges can be
pointed at it to try wattbus without any device."""

from __future__ import annotations

import logging

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from wattbus.service import ServiceSpec
from wattbus.settings import BusSettings, ServiceSettings

from wattbus_simulator.home import simulated_home

log = logging.getLogger(__name__)


class SimulatorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_SIMULATOR_")

    bind: str = Field("127.0.0.1", description="address the fake devices listen on")
    shelly_port: int = Field(8081, ge=1, le=65535)
    zendure_port: int = Field(8082, ge=1, le=65535)
    shelly_password: SecretStr | None = None
    speed: float = Field(1.0, gt=0, le=1000, description="simulated s per real s")


async def serve(settings: SimulatorSettings, _bus: BusSettings) -> None:
    """The simulator speaks HTTP like the devices; it does not use the broker."""
    password = settings.shelly_password.get_secret_value() if settings.shelly_password else None
    async with simulated_home(
        speed=settings.speed,
        host=settings.bind,
        shelly_port=settings.shelly_port,
        zendure_port=settings.zendure_port,
        shelly_password=password,
    ) as home:
        log.info(
            "fake Shelly Pro 3EM on %s:%d, fake Zendure SolarFlow on %s:%d, speed x%g",
            settings.bind, home.shelly.port, settings.bind, home.zendure.port, settings.speed,
        )  # fmt: skip
        await home.run()


SERVICE = ServiceSpec("simulator", SimulatorSettings, serve)
