"""How the CLI finds and starts services: each package registers a `ServiceSpec` under the
`wattbus.services` entry point, so the common library knows no service by name."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from wattbus.settings import BusSettings, ServiceSettings, describe_error

CANCEL_AGAIN = 1.0  # s a stopping service has before it is cancelled once more
# HTTP libraries that log every request at INFO: a bridge polling once a second would write
# two lines a second that say nothing a user needs; their warnings still show
QUIET_LOGGERS = ("httpx", "httpcore")


class ConfigError(Exception):
    """Settings that cannot work; the message is the one line shown before exit code 2."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    settings: type[ServiceSettings]
    run: Callable[[Any, BusSettings], Coroutine[Any, Any, None]]
    # lines `config check` prints after the settings: what else decides the values in effect
    check_notes: Callable[[Any], list[str]] | None = None

    def load(self) -> tuple[ServiceSettings, BusSettings]:
        """Both settings objects, or ConfigError naming the variable at fault."""
        try:
            bus = BusSettings()
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


def run_until_signalled(main: Coroutine[Any, Any, None], log_level: str = "INFO") -> None:
    """Run a service; SIGTERM (docker stop) and Ctrl-C cancel it so it can say `offline`."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if log_level.upper() != "DEBUG":  # asked for everything: the requests too
        quiet_http_loggers()

    # What is loaded by now (modules, classes, pydantic's validators) lives as long as the
    # process. Frozen, the cycle collector stops walking it: a full collection over it took
    # 5-7 ms, which lands on whatever message is being handled (bench/latency.py).
    gc.freeze()

    async def guarded() -> None:
        task = asyncio.ensure_future(main)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        # Python 3.11's asyncio.wait_for (under aiomqtt's publish) returns its result and drops
        # a cancel that lands just as its future completes: cancel until the service has ended.
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=CANCEL_AGAIN)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(guarded())


def run_service(name: str) -> int:
    """`wattbus run <name>`: the exit code; 2 with one line on stderr for bad settings."""
    spec = service(name) if name in service_names() else None
    if spec is None:
        installed = ", ".join(service_names()) or "none"
        print(f"wattbus: unknown service {name!r}; installed: {installed}", file=sys.stderr)
        return 2
    try:
        own, bus = spec.load()
    except ConfigError as err:
        print(f"wattbus: {name}: {err}", file=sys.stderr)
        return 2
    run_until_signalled(spec.run(own, bus), bus.log_level)
    return 0
