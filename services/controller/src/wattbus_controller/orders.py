"""What the controller sends tracked chargers and plugs on their `set` topics: an order when it
changes, and the same again once a minute while the device's own state does not show it (a
bridge that restarted, a message lost), never more often. It remembers only what it last sent."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime

from wattbus.bus import Bus
from wattbus.models import ChargerState, PlugState

from wattbus_controller.arbiter import ChargerVerdict
from wattbus_controller.drives import Order, command, shows
from wattbus_controller.plugs import PlugDecision
from wattbus_controller.settings import ChargerKind

log = logging.getLogger(__name__)

RESEND = 60.0  # s before an order a charger's or plug's state does not show is sent again


class Orders:
    def __init__(self, bus: Bus, kinds: Mapping[str, ChargerKind], ids: Iterator[int]) -> None:
        self.bus = bus
        self.kinds = kinds
        self.ids = ids  # the controller's command ids, shared with the battery commands
        self.to_chargers: dict[str, tuple[dict[str, object], datetime]] = {}
        self.to_plugs: dict[str, tuple[bool, datetime]] = {}

    async def drive(
        self,
        verdicts: Mapping[str, ChargerVerdict],
        states: Mapping[str, ChargerState | None],
        now: datetime,
    ) -> None:
        for cid, v in verdicts.items():
            if v.action == "leave":
                continue
            order = Order(v.current if v.action == "charge" else None, v.phases, v.strategy)
            kind = self.kinds[cid]
            fields = command(kind, order)
            last = self.to_chargers.get(cid)
            state = states.get(cid)
            if last is not None and last[0] == fields:
                due = (now - last[1]).total_seconds() >= RESEND
                if not due or state is None or shows(kind, order, state):
                    continue
            await self._send(cid, fields)
            self.to_chargers[cid] = (fields, now)
            level = logging.INFO if last is None or last[0] != fields else logging.DEBUG
            log.log(level, "%s: %s (%s)", cid, fields, v.reason)

    async def switch(
        self,
        decisions: Mapping[str, PlugDecision],
        states: Mapping[str, PlugState | None],
        now: datetime,
    ) -> None:
        for pid, d in decisions.items():
            state = states.get(pid)
            if d.on is None or state is None or state.on == d.on:
                continue
            last = self.to_plugs.get(pid)
            if last is not None and last[0] == d.on and (now - last[1]).total_seconds() < RESEND:
                continue
            await self._send(pid, {"on": d.on})
            self.to_plugs[pid] = (d.on, now)
            log.info("%s: %s (%s)", pid, "on" if d.on else "off", d.reason)

    async def _send(self, device: str, fields: dict[str, object]) -> None:
        message = {**fields, "id": f"controller-{next(self.ids)}"}
        await self.bus.publish(self.bus.topics.set(device), message, qos=1)
