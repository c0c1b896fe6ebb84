"""`wattbus`: run a service, run the demo, steer and inspect a running suite.

Bad input exits with code 2 and one line saying what is wrong; nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, NoReturn

import aiomqtt
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from wattbus.bus import mqtt_client
from wattbus.models import BridgeHealth, HomeHealth
from wattbus.service import (
    ConfigError,
    ServiceSpec,
    run_service,
    service,
    service_names,
    unknown_variables,
)
from wattbus.settings import BusSettings, describe_error
from wattbus.topics import CONTROLLER_ID, Topics

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False
)
config_app = typer.Typer(no_args_is_help=True, help="Check settings without starting anything.")
app.add_typer(config_app, name="config")
# commands a service package adds (`wattbus notify test`), named by their entry point
for _ep in entry_points(group="wattbus.commands"):
    app.add_typer(_ep.load(), name=_ep.name)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

ANSWER_TIMEOUT = 5.0  # s to wait for the controller's event answering a command
STATUS_QUIET = 0.5  # s without a new retained message before `status` prints
HEALTH_MAX_AGE = 60.0  # s since the running service last touched its health file


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"wattbus: {message}", style="red", highlight=False)
    raise typer.Exit(code)


def bus_settings() -> BusSettings:
    try:
        return BusSettings()
    except ValidationError as err:
        fail(describe_error(err, BusSettings))
    except ValueError as err:  # a `*_FILE` that cannot be read
        fail(str(err))


def client(s: BusSettings, suffix: str) -> aiomqtt.Client:
    return mqtt_client(s, f"wattbus-cli-{suffix}-{uuid.uuid4().hex[:6]}")


def _spec(name: str) -> ServiceSpec:
    spec = service(name) if name in service_names() else None
    if spec is None:
        fail(f"unknown service {name!r}; installed: {', '.join(service_names()) or 'none'}")
    return spec


@app.command()
def run(name: Annotated[str, typer.Argument(help="shelly, zendure, controller, ...")]) -> None:
    """Run one service in the foreground (what each container runs)."""
    raise typer.Exit(run_service(name))


class Scenario(StrEnum):
    HOME = "home"
    DISPATCH = "dispatch"
    SOLAR = "solar"


class DemoMeter(StrEnum):
    SHELLY = "shelly"
    SMAPPEE = "smappee"


@app.command()
def demo(
    speed: Annotated[
        float | None,
        typer.Option(
            help="simulated seconds per real second "
            "[default: 10; dispatch: 30; solar: 60; --meter smappee: 30]"
        ),
    ] = None,
    duration: Annotated[float | None, typer.Option(help="stop after this many real s")] = None,
    embedded_broker: Annotated[
        bool, typer.Option(help="use the in-process Python broker even if mosquitto is installed")
    ] = False,
    scenario: Annotated[
        Scenario,
        typer.Option(
            help="home: an EV session at home; dispatch: a smart-tariff evening; "
            "solar: a sunny-then-cloudy day"
        ),
    ] = Scenario.HOME,
    meter: Annotated[
        DemoMeter,
        typer.Option(
            help="the home's grid meter: a Shelly Pro 3EM (1 s readings) or a Smappee through "
            "its cloud (5-minute blocks)"
        ),
    ] = DemoMeter.SHELLY,
) -> None:
    """A simulated household, a local broker, every service, live in the terminal."""
    if speed is not None and (speed <= 0 or speed > 1000):
        fail("--speed must be above 0 and at most 1000")
    if meter is DemoMeter.SMAPPEE and scenario is not Scenario.HOME:
        fail("--meter smappee is for the home scenario")
    eps = {ep.name: ep for ep in entry_points(group="wattbus.demo")}
    if "demo" not in eps:
        fail("the demo needs the wattbus-simulator package")
    eps["demo"].load()(
        speed=speed, duration=duration, embedded_broker=embedded_broker,
        scenario=scenario.value, meter=meter.value,
    )  # fmt: skip


async def _command(payload: dict[str, object]) -> dict[str, object]:
    s = bus_settings()
    topics = Topics(s.topic_prefix, s.discovery_prefix)
    command_id = f"cli-{uuid.uuid4().hex[:8]}"
    async with client(s, "cmd") as c:
        await c.subscribe(topics.event(CONTROLLER_ID), qos=1)
        await c.publish(topics.set(CONTROLLER_ID), json.dumps({**payload, "id": command_id}), qos=1)
        async with asyncio.timeout(ANSWER_TIMEOUT):
            async for message in c.messages:
                with contextlib.suppress(ValueError, TypeError):
                    event = json.loads(message.payload)
                    if isinstance(event, dict) and event.get("id") == command_id:
                        return event
    raise TimeoutError


def _steer(payload: dict[str, object]) -> None:
    try:
        event = asyncio.run(_command(payload))
    except TimeoutError:
        fail(f"no answer from the controller within {ANSWER_TIMEOUT:g} s", code=1)
    except aiomqtt.MqttError as err:
        fail(f"broker: {err}", code=1)
    if event.get("kind") != "applied":
        fail(f"refused: {event.get('reason')}", code=1)
    console.print(f"controller: {payload} applied")


@app.command()
def pause() -> None:
    """Hold every battery now, whatever the meter says (until `resume` or `mode auto`)."""
    _steer({"mode": "pause"})


@app.command()
def resume() -> None:
    """Release every battery now and keep them released (until `mode auto`)."""
    _steer({"mode": "resume"})


@app.command()
def mode(value: Annotated[str, typer.Argument(help="auto, pause, resume or off")]) -> None:
    """Set the controller's mode."""
    if value not in ("auto", "pause", "resume", "off"):
        fail(f"mode must be auto, pause, resume or off, not {value!r}")
    _steer({"mode": value})


async def _retained() -> dict[str, bytes]:
    s = bus_settings()
    topics = Topics(s.topic_prefix, s.discovery_prefix)
    seen: dict[str, bytes] = {}
    async with client(s, "status") as c:
        await c.subscribe(f"{topics.prefix}/+/state")
        await c.subscribe(f"{topics.prefix}/+/availability")
        await c.subscribe(f"{topics.prefix}/+/health")
        await c.subscribe(topics.home_health)
        with contextlib.suppress(TimeoutError):
            while True:
                async with asyncio.timeout(STATUS_QUIET):
                    message = await anext(aiter(c.messages))
                seen[str(message.topic)] = message.payload
    return seen


def _last_read(raw: bytes | None) -> tuple[str, str]:
    """(when the device last answered, failed reads in a row) from its bridge's health word."""
    if raw is None:
        return "", ""
    try:
        h = BridgeHealth.model_validate_json(raw)
    except ValueError:
        return "?", "?"
    when = h.last_success.astimezone().strftime("%H:%M:%S") if h.last_success else "never"
    failed = f"{h.failures}: {h.error}" if h.failures else "0"
    return when, failed


@app.command()
def status() -> None:
    """Every device's availability, last answer and state, and the home's health, from the
    broker's retained messages."""
    try:
        seen = asyncio.run(_retained())
    except aiomqtt.MqttError as err:
        fail(f"broker: {err}", code=1)
    s = bus_settings()
    topics = Topics(s.topic_prefix)
    devices = sorted({d for t in seen if (d := topics.device_of(t))})
    table = Table("device", "availability", "last read", "failures", "state")
    for d in devices:
        avail = seen.get(topics.availability(d), b"?").decode()
        raw = seen.get(topics.state(d), b"{}")
        try:
            state = json.loads(raw)
            shown = ", ".join(f"{k}={v}" for k, v in state.items() if k != "ts")
        except ValueError:
            shown = raw.decode(errors="replace")
        table.add_row(d, avail, *_last_read(seen.get(topics.health(d))), shown)
    console.print(table)
    home = seen.get(topics.home_health)
    if home is None:
        console.print("home: no health published (is the controller running?)")
        return
    try:
        h = HomeHealth.model_validate_json(home)
    except ValueError:
        console.print("home: health unreadable")
        return
    style = {"ok": "green", "degraded": "yellow", "problem": "red"}[h.status]
    console.print(f"home: [{style}]{h.status}[/]", *h.problems, sep="\n  ")


@config_app.command("check")
def config_check(
    name: Annotated[str | None, typer.Argument(help="the service to check")] = None,
) -> None:
    """Load a service's settings as it would at start-up; secrets are masked. Every
    `WATTBUS_*` variable no installed service reads is named, with or without a service."""
    if name is None:
        if warning := unknown_variables():
            err_console.print(f"wattbus: warning: {warning}", style="yellow", highlight=False)
        else:
            console.print("every WATTBUS_* variable is read by a setting")
        return
    spec = _spec(name)
    try:
        own, bus = spec.load()
    except ConfigError as err:
        fail(f"{name}: {err}")
    table = Table("setting", "value")
    for model in (bus, own):
        for key, value in model.model_dump().items():
            table.add_row(key, str(value))
    console.print(table)
    for line in spec.check_notes(own) if spec.check_notes else []:
        console.print(line, highlight=False, soft_wrap=True)
    if warning := unknown_variables():
        err_console.print(f"wattbus: {name}: warning: {warning}", style="yellow", highlight=False)
    console.print(f"{name}: settings are valid")


def _health_file(name: str | None) -> Path:
    """The file service `name` touches: WATTBUS_HEALTH_FILE if set (each container sets its
    own), else the service's default, as `ServiceSpec.load` picks it."""
    s = bus_settings()
    if name is not None:
        return s.for_service(_spec(name).name).health_file
    if "health_file" not in s.model_fields_set:
        fail("name the service (wattbus health <service>), or set WATTBUS_HEALTH_FILE")
    return s.health_file


@app.command()
def health(
    name: Annotated[
        str | None, typer.Argument(help="the service; not needed with WATTBUS_HEALTH_FILE")
    ] = None,
    file: Annotated[Path | None, typer.Option(help="health file to check")] = None,
) -> None:
    """Exit 0 while a running service is connected to its broker (for container healthchecks)."""
    path = file or _health_file(name)
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        fail(f"no health file at {path}", code=1)
    if age > HEALTH_MAX_AGE:
        fail(f"not connected to the broker for {age:.0f} s", code=1)


@app.command()
def reset() -> None:
    """Drop the controller's values saved at run time: the configured settings apply again."""
    _steer({"reset": True})
