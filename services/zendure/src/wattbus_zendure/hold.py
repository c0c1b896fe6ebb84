"""The hold for a SolarFlow: the shared `wattbus.hold.Holder` with the SolarFlow's port,
its fallbacks by name, and the owner's own settings checked against what the unit takes."""

from __future__ import annotations

import math
import os
from datetime import datetime

from wattbus import hold
from wattbus.bridge import Outbox
from wattbus.commands import CommandError
from wattbus.hold import Setting, Settings, check_now

from wattbus_zendure.client import SolarFlow
from wattbus_zendure.models import Properties
from wattbus_zendure.port import Saved, SolarFlowPort

# %: what zenSDK documents for minSoc (0-500, tenths). Some firmware takes more (the hold's
# 100 % relies on it where it can), but a user's value above this may be refused at release.
USER_MIN_SOC_MAX = 50.0


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
        if not 0 <= percent <= USER_MIN_SOC_MAX:
            raise CommandError(
                f"min_soc {percent:g} % is outside what a SolarFlow takes "
                f"(0-{USER_MIN_SOC_MAX:g} %)"
            )
        return await self.change({"min_soc": percent}, now)

    async def set_output_limit(self, watts: float, now: datetime) -> Setting:
        """The user's AC output limit, on the same terms as `set_min_soc`: at most the
        unit's own `inverseMaxPower`, which it reports."""
        check_now(now)
        top = (await self._flow.report()).properties.inverse_max_power
        if not (math.isfinite(watts) and 0 <= watts <= (math.inf if top is None else top)):
            raise CommandError(
                f"output_limit {watts:g} W is outside what this SolarFlow takes (0-{top} W)"
            )
        return await self.change({"output_limit": watts}, now)
