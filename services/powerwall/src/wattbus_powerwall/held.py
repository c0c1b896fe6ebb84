"""What a held Powerwall looks like, and the device's side of a hold: read the two settings a
hold changes, write them (read back and retried, `Gateway.write`), and tell held settings
from an owner's own.

A hold keeps the battery from discharging, into an EV or through a cheap-rate window: the
operating mode `backup`, in which the Powerwall does not discharge while the grid is up, with
the highest reserve the route takes (100 % on the local gateway, 80 % through FleetAPI and the
cloud, which refuse more). Both parts, because Tesla applies them as two commands and can drop
one: a high reserve alone still keeps the battery from emptying itself, and `backup` alone
still stops it discharging.
"""

from __future__ import annotations

from wattbus.models import HoldRoute, Operation

from wattbus_powerwall.client import RESERVE_TOLERANCE, Gateway
from wattbus_powerwall.models import Settings

HELD_OPERATION: Operation = "backup"


class PowerwallSide:
    """One Powerwall as the hold sees it."""

    route = HoldRoute.BACKUP

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    @property
    def held(self) -> Settings:
        """The settings a hold writes."""
        return Settings(HELD_OPERATION, self._gateway.max_reserve)

    async def read(self) -> Settings:
        return await self._gateway.settings()

    async def write(self, settings: Settings) -> None:
        """On the gateway and read back, or a PowerwallError (refused, not applied)."""
        await self._gateway.write(settings)

    def looks_held(self, settings: Settings) -> bool:
        """`backup` with the route's highest reserve: what a hold leaves, and what an owner
        keeps only rarely (a storm coming). Without a record it is taken for a lost hold."""
        return (
            settings.operation == HELD_OPERATION
            and settings.reserve >= self._gateway.max_reserve - RESERVE_TOLERANCE
        )
