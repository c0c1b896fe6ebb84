"""The hold for a SolarFlow: the shared `wattbus.hold.Holder` with the SolarFlow's port,
its fallbacks by name, and the owner's own settings checked against what the unit takes."""

from __future__ import annotations

import os
from datetime import datetime

from wattbus import hold
from wattbus.bridge import Outbox
from wattbus.commands import CommandError
from wattbus.hold import Setting, Settings, check_now

from wattbus_zendure.client import SolarFlow
from wattbus_zendure.models import Properties
from wattbus_zendure.port import Saved, SolarFlowPort, min_soc_refusal


class Holder(hold.Holder[Properties, Saved]):
    """Holds one SolarFlow and gives its settings back, surviving restarts of the bridge."""

    def __init__(
        self,
        flow: SolarFlow,
        path: str | os.PathLike[str],
        *,
        fallback_min_soc: float | None = None,
        fallback_output_limit: float | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        """`fallback_*` as `wattbus.hold.Holder`'s fallbacks; None leaves such a setting
        alone."""
        fallbacks: Settings = {}
        if fallback_min_soc is not None:
            fallbacks["min_soc"] = fallback_min_soc
        if fallback_output_limit is not None:
            fallbacks["output_limit"] = fallback_output_limit
        self._flow = flow
        super().__init__(SolarFlowPort(flow), path, fallbacks=fallbacks, outbox=outbox)

    async def set_min_soc(self, percent: float, now: datetime) -> Setting:
        """The user's discharge floor: on the device now, or at release if held. Checked
        against what the device is documented to take before anything is said or saved: a
        deferred value the device refuses at release would block the restore."""
        check_now(now)
        if (why := min_soc_refusal(percent)) is not None:
            raise CommandError(f"min_soc {percent:g} % is {why}")
        return await self.change({"min_soc": percent}, now)

    async def set_output_limit(self, watts: float, now: datetime) -> Setting:
        """The user's AC output limit, on the same terms as `set_min_soc`: at most the
        unit's own `inverseMaxPower`, which it reports."""
        check_now(now)
        reading = (await self._flow.report()).properties
        if (why := self.port.refuses(reading, "output_limit", watts)) is not None:
            raise CommandError(f"output_limit {watts:g} W is {why}")
        return await self.change({"output_limit": watts}, now)
