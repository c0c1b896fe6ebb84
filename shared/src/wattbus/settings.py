"""Settings from the environment, a `.env` file and `*_FILE` secrets (Docker and compose secrets).

Every service reads `BusSettings` (env prefix `WATTBUS_`) plus its own `ServiceSettings` subclass
with a prefix of its own (`WATTBUS_SHELLY_`, ...). A bad value stops start-up with one line that
names the environment variable, so a user knows what to fix.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Self

from pydantic import SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class FileSecretsSource(EnvSettingsSource):
    """`<PREFIX><FIELD>_FILE=/run/secrets/x` reads the value from that file, as Docker images do."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        env_name = f"{self.env_prefix}{field_name}_FILE"
        if not self.case_sensitive:
            env_name = env_name.upper()
        path = os.environ.get(env_name)
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text().strip(), field_name, False
        except OSError as err:
            raise ValueError(f"{env_name}: cannot read {path}: {err.strerror}") from err


_ONLY_GIVEN: ContextVar[bool] = ContextVar("only_given", default=False)


class ServiceSettings(BaseSettings):
    """Base of every settings class: env first, then `*_FILE` secrets, then `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    @classmethod
    def only(cls, **values: Any) -> Self:
        """These values and the defaults, nothing from the environment, `.env` or files: for
        the demo and the tests, which must not pick up a user's settings (or reach the devices
        and broker those name)."""
        token = _ONLY_GIVEN.set(True)
        try:
            return cls(**values)
        finally:
            _ONLY_GIVEN.reset(token)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _ONLY_GIVEN.get():
            return (init_settings,)
        return (init_settings, env_settings, FileSecretsSource(settings_cls), dotenv_settings)


class BusSettings(ServiceSettings):
    """How every service reaches the broker and names its topics."""

    model_config = SettingsConfigDict(env_prefix="WATTBUS_")

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None
    topic_prefix: str = "wattbus"
    discovery_prefix: str = "homeassistant"
    discovery: bool = True
    heartbeat: float = 10.0  # s: an unchanged state is re-sent this often, well inside
    # the controller's 30 s staleness limit, so quiet data never looks like a dead meter
    health_file: Path = Path("/tmp/wattbus.health")
    log_level: str = "INFO"


def describe_error(err: ValidationError, settings_cls: type[BaseSettings]) -> str:
    """One line naming the environment variable at fault, for exit code 2."""
    prefix = str(settings_cls.model_config.get("env_prefix", "")).upper()
    parts = []
    for e in err.errors():
        field = ".".join(str(x) for x in e["loc"])
        name = f"{prefix}{field.upper()}" if field else prefix.rstrip("_")
        msg = "is required" if e["type"] == "missing" else e["msg"]
        parts.append(f"{name} {msg}")
    return "; ".join(parts)
