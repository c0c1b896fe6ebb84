"""What the Powerwall bridge accepts on `set` and `set/<field>`: the hold every battery takes,
and the owner's own two settings, each named as its state field."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool
from wattbus.models import Command, JsonNumber, Lease, Operation, Percent


class PowerwallCommand(Command):
    reserve: Annotated[Percent, JsonNumber] | None = Field(
        None, description="%, the app's scale; at most 80 through FleetAPI and the cloud"
    )
    operation: Operation | None = None
    hold: StrictBool | None = None
    lease: Annotated[Lease, JsonNumber] | None = Field(
        None, description="s, how long a hold lasts without renewal"
    )
