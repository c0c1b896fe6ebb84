"""The `wattbus` command's entry point.

`wattbus run <service>` is what every container runs for weeks; it starts without importing
the interactive CLI (typer, rich), which keeps about 4 MB per process on a Raspberry Pi.
Everything else goes to the full CLI in `wattbus.cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "run" and not args[1].startswith("-"):
        from wattbus.service import run_service

        sys.exit(run_service(args[1]))
    from wattbus.cli import app

    app()
