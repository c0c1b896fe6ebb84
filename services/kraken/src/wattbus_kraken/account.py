"""One poll of an account: its device's state, its planned and its completed dispatches.

Each poll is one request (after the token's own, when it is due): `devices`, the planned
dispatches and `completedDispatches` together. Planned dispatches come from
`flexPlannedDispatches(deviceId)`, which needs the device's id, learnt from `devices` and kept
by the bridge. Until it is known, or for an hour after flex failed (KT-CT-4340, or any other
error on that field), the older `plannedDispatches(accountNumber)` stands in. When flex fails
and the hour's budget has room, the older query is asked at once, so the poll still brings a
plan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from wattbus_kraken.client import Answer, KrakenClient
from wattbus_kraken.documents import COMPLETED, DEVICES, FLEX_PLANNED, PLANNED
from wattbus_kraken.models import Device, FlexDispatch, LegacyDispatch
from wattbus_kraken.windows import Dispatch

log = logging.getLogger(__name__)

FLEX_RETRY = timedelta(hours=1)  # after flex failed, the older query stands in this long
# the device types flex dispatches are planned for; the first of these is chosen
DISPATCHED_TYPES = ("ELECTRIC_VEHICLES", "CHARGE_POINTS")

Source = Literal["flex", "planned"]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Reading:
    """What one poll brought. A list is None when its field failed: nothing is known of it,
    which is not the same as an empty plan."""

    planned: list[Dispatch] | None
    source: Source | None
    completed: list[Dispatch] | None
    device_id: str | None
    device_state: str | None


class KrakenAccount:
    def __init__(
        self,
        client: KrakenClient,
        number: str,
        *,
        device_id: str | None = None,
        on_device: Callable[[str], None] | None = None,
    ) -> None:
        """`device_id`: the device to follow, as configured or as learnt on an earlier run;
        `on_device` is told the id when `devices` names another (to keep it)."""
        self.client = client
        self.number = number
        self.device_id = device_id
        self.fixed = False  # True: the configured id, never replaced by another
        self.flex_failed_at: datetime | None = None
        self._on_device = on_device

    def requests(self, t: datetime) -> int:
        """How many requests a poll at `t` makes, the extra fallback query aside."""
        return self.client.token_requests(t) + 1

    def _flex(self, now: datetime) -> bool:
        failed = self.flex_failed_at
        return self.device_id is not None and (failed is None or now - failed >= FLEX_RETRY)

    async def read(self, now: datetime, *, spare: int) -> Reading:
        """One poll; `spare`: requests the budget has room for beyond `requests(now)`."""
        flex = self._flex(now)
        fields = [DEVICES, FLEX_PLANNED if flex else PLANNED, COMPLETED]
        variables = {"accountNumber": self.number}
        if flex and self.device_id is not None:
            variables["deviceId"] = self.device_id
        answer = await self.client.query(fields, variables)
        device = self._device(_items(answer, DEVICES, Device))
        planned: list[Dispatch] | None
        source: Source | None
        if flex:
            flexed = _dispatches(answer, FLEX_PLANNED, FlexDispatch)
            planned, source = (flexed, "flex") if flexed is not None else (None, None)
            if flexed is None:
                self.flex_failed_at = now
                if spare > 0:
                    log.info("flexPlannedDispatches failed: asking plannedDispatches")
                    older = await self.client.query([PLANNED], {"accountNumber": self.number})
                    planned = _dispatches(older, PLANNED, LegacyDispatch)
                    source = "planned" if planned is not None else None
        else:
            planned = _dispatches(answer, PLANNED, LegacyDispatch)
            source = "planned" if planned is not None else None
        completed = _dispatches(answer, COMPLETED, LegacyDispatch)
        return Reading(planned, source, completed, self.device_id,
                       device.state if device else None)  # fmt: skip

    def _device(self, devices: list[Device] | None) -> Device | None:
        """The device followed: the known id if `devices` lists it, else the first car or
        charger (unless an id is configured), and remembered."""
        if not devices:
            return None
        known = next((d for d in devices if d.id == self.device_id), None)
        if known is not None or self.fixed:
            return known
        chosen = next((d for d in devices if d.deviceType in DISPATCHED_TYPES), devices[0])
        log.info("following device %s (%s)", chosen.id, chosen.deviceType or "type unknown")
        self.device_id = chosen.id
        self.flex_failed_at = None
        if self._on_device is not None:
            self._on_device(chosen.id)
        return chosen


def _items(answer: Answer, name: str, model: type[M]) -> list[M] | None:
    """A root field's list read into `model`s, or None if the field failed or does not
    read. A null list is an error too: Kraken sends [] for none."""
    if name in answer.errors:
        log.info("%s failed: %s", name, answer.errors[name])
        return None
    try:
        return TypeAdapter(list[model]).validate_python(answer.data.get(name))  # type: ignore[valid-type]
    except ValidationError as err:
        log.warning("%s does not read: %s", name, err.errors()[0]["msg"])
        return None


def _dispatches(
    answer: Answer, name: str, model: type[FlexDispatch] | type[LegacyDispatch]
) -> list[Dispatch] | None:
    items = _items(answer, name, model)
    return None if items is None else [i.dispatch() for i in items]
