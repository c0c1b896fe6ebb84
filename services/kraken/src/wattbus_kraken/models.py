"""Kraken's answers, as frozen models read at the edge; times must carry an offset.

Field names are Kraken's (camelCase), so a model reads like the query that asked for it.
Unknown extra fields are ignored: Kraken adds fields without notice.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict
from wattbus.models import DispatchKind

from wattbus_kraken.windows import Dispatch, kwh, utc


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class DeviceStatus(_Answer):
    currentState: str | None = None


class Device(_Answer):
    """One of `devices(accountNumber)`: a car or charger Kraken can dispatch."""

    id: str
    deviceType: str | None = None
    status: DeviceStatus | None = None

    @property
    def state(self) -> str | None:
        return self.status.currentState if self.status else None


PLANNED_TYPES = {"SMART": DispatchKind.SMART, "BOOST": DispatchKind.BOOST,
                 "TEST": DispatchKind.TEST}  # fmt: skip
# `meta.source` of the older queries. Without one, a dispatch is the supplier's own: smart.
SOURCES = {"smart-charge": DispatchKind.SMART, "bump-charge": DispatchKind.BOOST,
           None: DispatchKind.SMART}  # fmt: skip


class FlexDispatch(_Answer):
    """One of `flexPlannedDispatches(deviceId)`."""

    start: AwareDatetime
    end: AwareDatetime
    type: str | None = None
    energyAddedKwh: float | str | None = None

    def dispatch(self) -> Dispatch:
        kind = PLANNED_TYPES.get((self.type or "").upper(), DispatchKind.OTHER)
        return Dispatch(utc(self.start), utc(self.end), kind, kwh(self.energyAddedKwh))


class Meta(_Answer):
    source: str | None = None
    location: str | None = None


class LegacyDispatch(_Answer):
    """One of `plannedDispatches` or `completedDispatches(accountNumber)`."""

    start: AwareDatetime
    end: AwareDatetime
    delta: float | str | None = None
    meta: Meta | None = None

    def dispatch(self) -> Dispatch:
        source = self.meta.source if self.meta else None
        kind = SOURCES.get(source.lower() if source else None, DispatchKind.OTHER)
        return Dispatch(utc(self.start), utc(self.end), kind, kwh(self.delta))
