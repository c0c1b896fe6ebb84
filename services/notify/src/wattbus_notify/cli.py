"""`wattbus notify ...`: added to the `wattbus` command through the `wattbus.commands` entry
point, so the common CLI names no service. apprise is imported only when a command runs."""

from __future__ import annotations

import asyncio

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, help="Notifications: check the targets.")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


@app.command()
def test() -> None:
    """Send one message to every target: exit 0 when all took it, 1 naming those that did
    not, 2 for bad settings."""
    from wattbus.service import ConfigError

    from wattbus_notify import sender
    from wattbus_notify.service import SERVICE
    from wattbus_notify.settings import NotifySettings

    try:
        own, _bus = SERVICE.load()
    except ConfigError as err:
        err_console.print(f"wattbus: notify: {err}", style="red", highlight=False)
        raise typer.Exit(2) from err
    assert isinstance(own, NotifySettings)
    targets = sender.targets(own.targets)
    title = f"{own.home}: test"
    body = f"{own.home}: a test from wattbus notify; this target works."
    failed = asyncio.run(sender.send(targets, title, body))
    for shown in failed:
        err_console.print(f"wattbus: notify: not sent to {shown}", style="red", highlight=False)
    if failed:
        raise typer.Exit(1)
    console.print(f"notify: sent to all {len(targets)} targets", highlight=False)
