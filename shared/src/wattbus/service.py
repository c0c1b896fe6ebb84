"""How the CLI finds and starts services: each package registers a `ServiceSpec` under the
`wattbus.services` entry point, so the common library knows no service by name."""

from __future__ import annotations

import asyncio
import difflib
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from pydantic import ValidationError

from wattbus.settings import BusSettings, ServiceSettings, describe_error
from wattbus.stopping import stop

PREFIX = "WATTBUS_"  # of every setting's variable
# not settings, but read from the same `.env`: compose.yaml's image tag
NOT_SETTINGS = frozenset({"WATTBUS_IMAGE"})

log = logging.getLogger(__name__)

# HTTP libraries that log every request at INFO: a bridge polling once a second would write
# two lines a second that say nothing a user needs; their warnings still show
QUIET_LOGGERS = ("httpx", "httpcore")


class ConfigError(Exception):
    """Settings that cannot work; the message is the one line shown before exit code 2. A
    running service raises it too, for what only the bus shows (a meter too slow to use)."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    settings: type[ServiceSettings]
    run: Callable[[Any, BusSettings], Coroutine[Any, Any, None]]
    # lines `config check` prints after the settings: what else decides the values in effect
    check_notes: Callable[[Any], list[str]] | None = None

    def load(self) -> tuple[ServiceSettings, BusSettings]:
        """Both settings objects, or ConfigError naming the variable at fault. Every check is
        made here, `config check` and `run` alike, so what the one accepts the other runs."""
        try:
            bus = BusSettings().for_service(self.name)
        except ValidationError as err:
            raise ConfigError(describe_error(err, BusSettings)) from err
        except ValueError as err:
            raise ConfigError(str(err)) from err
        try:
            own = self.settings()
        except ValidationError as err:
            raise ConfigError(describe_error(err, self.settings)) from err
        except ValueError as err:
            raise ConfigError(str(err)) from err
        return own, bus


def unknown_variables(spec: ServiceSpec | None = None) -> str | None:
    """One line on the `WATTBUS_*` variables, in the environment or `.env`, that no setting
    reads (misspelt, most likely: they would be ignored in silence), or None.

    Without `spec` (`config check`) every installed service's settings are read, so a
    misspelling is named whichever service it was meant for. With it (`run`) only the bus's
    and that service's: compose gives one `.env` to every service, and a variable under another
    installed service's prefix is left to that service, which warns when it starts. (Importing
    every service in each process would cost it the others' modules: 11 MiB for the
    simulator's alone.)"""
    given = set(os.environ)
    env_file = Path(str(ServiceSettings.model_config.get("env_file")))
    if env_file.is_file():
        given |= set(dotenv_values(env_file))
    specs = [spec] if spec is not None else _every_service()
    known = set(NOT_SETTINGS) | _variables(BusSettings)
    for each in specs:
        known |= _variables(each.settings)
    judged = {each.name for each in specs}
    others = tuple(f"{PREFIX}{name.upper()}_" for name in service_names() if name not in judged)
    unknown = sorted(
        name
        for name in {n.upper() for n in given if n.upper().startswith(PREFIX)} - known
        if not name.startswith(others)
    )
    if not unknown:
        return None
    names = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        names.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return f"no setting reads {', '.join(names)}: ignored"


def _variables(settings: type[ServiceSettings]) -> set[str]:
    """The variables a settings class reads, each with its `_FILE` form."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    return {
        f"{prefix}{field.upper()}{end}" for field in settings.model_fields for end in ("", "_FILE")
    }


def _every_service() -> list[ServiceSpec]:
    """Every installed service that loads; one that does not is named by its own check."""
    specs = []
    for name in service_names():
        try:
            spec = service(name)
        except ImportError:
            continue
        if spec is not None:
            specs.append(spec)
    return specs


def service_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="wattbus.services"))


def service(name: str) -> ServiceSpec | None:
    """Load only the named service, so one broken package cannot stop the others."""
    for ep in entry_points(group="wattbus.services", name=name):
        spec = ep.load()
        if isinstance(spec, ServiceSpec):
            return spec
    return None


def quiet_http_loggers() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def run_until_signalled(
    main: Coroutine[Any, Any, None], log_level: str = "INFO", warning: str | None = None
) -> None:
    """Run a service; SIGTERM (docker stop) and Ctrl-C cancel it so it can say `offline`.
    `warning` is logged first, once logging is set up."""
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_level.upper() != "DEBUG":  # asked for everything: the requests too
        quiet_http_loggers()
    if warning:
        log.warning("%s", warning)

    # What is loaded by now (modules, classes, pydantic's validators) lives as long as the
    # process. Frozen, the cycle collector stops walking it: a full collection over it took
    # 5-7 ms, which lands on whatever message is being handled (bench/latency.py).
    gc.freeze()

    async def guarded() -> None:
        task = asyncio.ensure_future(main)
        signalled = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, signalled.set)
        waiting = asyncio.ensure_future(signalled.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        await stop(task)

    asyncio.run(guarded())


def run_service(name: str) -> int:
    """`wattbus run <name>`: the exit code; 2 with one line on stderr for bad settings."""
    spec = service(name) if name in service_names() else None
    if spec is None:
        installed = ", ".join(service_names()) or "none"
        print(f"wattbus: unknown service {name!r}; installed: {installed}", file=sys.stderr)
        return 2
    return run_spec(spec)


def run_spec(spec: ServiceSpec) -> int:
    """A service as `wattbus run` runs it, from a spec in hand (a service on a demo's clock)."""
    try:
        own, bus = spec.load()
    except ConfigError as err:
        print(f"wattbus: {spec.name}: {err}", file=sys.stderr)
        return 2
    try:
        run_until_signalled(spec.run(own, bus), bus.log_level, unknown_variables(spec))
    except ConfigError as err:  # settings that only the running service could find wrong
        print(f"wattbus: {spec.name}: {err}", file=sys.stderr)
        return 2
    return 0
