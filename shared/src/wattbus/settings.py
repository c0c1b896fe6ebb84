"""Settings from the environment, a `.env` file and `*_FILE` secrets (Docker and compose secrets).

Every service reads `BusSettings` (env prefix `WATTBUS_`) plus its own `ServiceSettings` subclass
with a prefix of its own (`WATTBUS_SHELLY_`, ...). A bad value stops start-up with one line that
names the environment variable, so a user knows what to fix.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import ssl
import tempfile
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from wattbus.topics import CONTROLLER_ID


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


def field_error(model: str, field: str, message: str, kind: str = "value_error") -> ValidationError:
    """An error on the field at fault, raised from a check across fields, so the one-line
    message names that field's variable as for any other bad value."""
    detail = InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=None)
    return ValidationError.from_exception_data(model, [detail])


# a host name's labels (underscores too: compose service names have them), or an IP address
HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_][A-Za-z0-9_-]{0,62}(\.[A-Za-z0-9_-]{1,63})*\.?")
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
TOPIC_LEVEL = re.compile(r"[^/+#\s\x00]+")
PORT_DIGITS = re.compile(r"[0-9]{1,5}")
MAX_PORT = 65_535


def _host(value: str) -> str:
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(value)
        return value
    if not HOST_NAME.fullmatch(value):
        message = "Input should be a host name or an IP address"
        if "://" in value:
            message += ", not a URL: give only the host"
        elif ":" in value:
            message += ", without a port: the port has a setting of its own"
        raise PydanticCustomError("host", message)
    return value


def _host_and_port(value: str) -> str:
    """A device's address as users copy it: `192.168.1.50`, `shelly:8080`, `[fe80::1]:8080`."""
    with contextlib.suppress(ValueError):
        ipaddress.ip_address(value)
        return value
    host, colon, port = value.rpartition(":")
    if not (colon and PORT_DIGITS.fullmatch(port)):
        host = value
    elif not 1 <= int(port) <= MAX_PORT:
        raise PydanticCustomError("port", f"Input should carry a port from 1 to {MAX_PORT}")
    _host(host.removeprefix("[").removesuffix("]"))
    return value


def _device_id(value: str) -> str:
    if not DEVICE_ID.fullmatch(value):
        raise PydanticCustomError(
            "device_id",
            "Input should be 1 to 64 letters, digits, '-' or '_' (it is a topic level: "
            "no '/', '+', '#' or spaces)",
        )
    if value == CONTROLLER_ID:
        raise PydanticCustomError("device_id", "'controller' is the controller's own id")
    return value


def _topic_prefix(value: str) -> str:
    if value.startswith("$") or not all(TOPIC_LEVEL.fullmatch(x) for x in value.split("/")):
        raise PydanticCustomError(
            "topic_prefix",
            "Input should be topic levels joined by '/': no '+', '#', spaces or empty levels, "
            "and no leading '$'",
        )
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


Host = Annotated[str, AfterValidator(_host)]
HostAndPort = Annotated[str, AfterValidator(_host_and_port)]  # the port is optional
Port = Annotated[int, Field(ge=1, le=MAX_PORT)]
DeviceId = Annotated[str, AfterValidator(_device_id)]
TopicPrefix = Annotated[str, AfterValidator(_topic_prefix)]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)
]


def health_file_of(service: str) -> Path:
    """Each service's own, so two on one host outside compose never share one; in the temp
    directory (`$TMPDIR`, else /tmp), which is the service user's to write."""
    return Path(tempfile.gettempdir()) / f"wattbus-{service}.health"


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The context every client connects with; the settings build it once to check it."""
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class BusSettings(ServiceSettings):
    """How every service reaches the broker and names its topics."""

    model_config = SettingsConfigDict(env_prefix="WATTBUS_")

    mqtt_host: Host = "127.0.0.1"
    mqtt_port: Port = 1883
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None
    topic_prefix: TopicPrefix = "wattbus"
    discovery_prefix: TopicPrefix = "homeassistant"
    discovery: bool = True
    heartbeat: float = Field(10.0, ge=1)  # s: an unchanged state is re-sent this often, well
    # inside the controller's 30 s staleness limit, so quiet data never looks like a dead meter
    # failed reads in a row before a bridge calls its device offline: one lost answer on a busy
    # Wi-Fi is no outage, and the state's `ts` shows its age to whoever acts on it meanwhile
    offline_after: int = Field(3, ge=1, le=100)
    # unset, each service uses `health_file_of(its name)`: `for_service` fills it in
    health_file: Path = health_file_of("bus")
    log_level: LogLevel = "INFO"

    @model_validator(mode="after")
    def _tls_works(self) -> Self:
        """A CA file that cannot be read would otherwise fail only at the first connect."""
        if self.mqtt_tls:
            try:
                tls_context(self.mqtt_ca_file)
            except OSError as err:  # ssl.SSLError is one too
                reason = (
                    f"holds no CA certificate ({err.reason})"
                    if isinstance(err, ssl.SSLError)
                    else f"cannot be read: {err.strerror}"
                )
                raise field_error("BusSettings", "mqtt_ca_file", reason) from err
        return self

    def for_service(self, name: str) -> BusSettings:
        """These settings as service `name` runs with them: its own health file if none is set."""
        if "health_file" in self.model_fields_set:
            return self
        return self.model_copy(update={"health_file": health_file_of(name)})


def describe_error(err: ValidationError, settings_cls: type[BaseSettings]) -> str:
    """One line naming the environment variable at fault, for exit code 2."""
    prefix = str(settings_cls.model_config.get("env_prefix", "")).upper()
    parts = []
    for e in err.errors():
        field, *within = e["loc"]
        name = f"{prefix}{str(field).upper()}" if field else prefix.rstrip("_")
        where = "".join(f" (item {i + 1})" if isinstance(i, int) else f" ({i})" for i in within)
        msg = "is required" if e["type"] == "missing" else e["msg"]
        parts.append(f"{name}{where} {msg}")
    return "; ".join(parts)
