"""The shell around `health`: hears every service's availability and every bridge's health
word on the bus, publishes `wattbus/health` (retained) when it changes and every
`health_interval`, and logs the status line every `status_interval`. Home Assistant gets, on
the controller's device, one problem sensor for the home and a connectivity sensor per
service or device heard of: new ones are announced as they appear."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from wattbus.bus import Bus
from wattbus.discovery import Entity
from wattbus.inputs import BusInputs
from wattbus.models import BridgeHealth, HomeHealth

from wattbus_controller.health import Heard, status_line, summary

log = logging.getLogger(__name__)


class HealthWatch:
    def __init__(
        self,
        bus: Bus,
        inputs: BusInputs,
        clock: Callable[[], datetime],
        *,
        interval: float,
        status_interval: float,
        announce: Callable[[], Awaitable[None]],
    ) -> None:
        self.bus, self.inputs, self.clock = bus, inputs, clock
        self.interval, self.status_interval = interval, status_interval
        self.announce = announce  # the controller's discovery, sent again with a new device
        self.heard: dict[str, Heard] = {}
        self.published: HomeHealth | None = None
        self._status_at: datetime | None = None
        t = bus.topics
        bus.route(t.availability("+"), self._on_availability)
        bus.route(t.health("+"), self._on_health)

    async def run(self) -> None:
        while True:
            await self.publish(every=True)
            now = self.clock()
            if self._status_at is None or (
                (now - self._status_at).total_seconds() >= self.status_interval
            ):
                log.info("%s", status_line(summary(self.heard, now)))
                self._status_at = now
            await asyncio.sleep(self.interval)

    async def publish(self, *, every: bool = False) -> None:
        home = summary(self.heard, self.clock())
        old = self.published
        if every or old is None or not home.same_values(old):
            await self.bus.publish(self.bus.topics.home_health, home, retain=True)
            self.published = home

    async def _on_availability(self, topic: str, payload: bytes) -> None:
        device = self.bus.topics.device_of(topic)
        if device is None:
            return
        if not payload:  # its retained availability cleared: a device removed from the home
            self.heard.pop(device, None)
            await self.publish()
            return
        online = await self.inputs.availability(topic, payload)
        if online is not None:
            await self._heard(device, online=online)

    async def _on_health(self, topic: str, payload: bytes) -> None:
        device = self.bus.topics.device_of(topic)
        if device is None or not payload:
            return
        health = await self.inputs.state(BridgeHealth, topic, payload)
        if health is not None:
            await self._heard(device, health=health)

    async def _heard(self, device: str, **news: object) -> None:
        new = device not in self.heard
        old = self.heard.get(device, Heard())
        self.heard[device] = Heard(
            online=news.get("online", old.online),  # type: ignore[arg-type]
            health=news.get("health", old.health),  # type: ignore[arg-type]
        )
        if new and self.bus.settings.discovery:
            await self.announce()
        await self.publish()

    def entities(self) -> tuple[Entity, ...]:
        topic = self.bus.topics.home_health
        problem = Entity(
            "home_problem", "binary_sensor", "Home problem", device_class="problem",
            state_topic=topic, value_template="{{ 'OFF' if value_json.status == 'ok' else 'ON' }}",
        )  # fmt: skip
        return (problem, *(self._connectivity(d, topic) for d in sorted(self.heard)))

    @staticmethod
    def _connectivity(device: str, topic: str) -> Entity:
        of = f"(value_json.devices.get({json.dumps(device)}) or {{}})"
        return Entity(
            f"connected_{device.replace('-', '_')}", "binary_sensor", f"{device} connected",
            device_class="connectivity", category="diagnostic", state_topic=topic,
            value_template=f"{{{{ 'ON' if {of}.get('online') else 'OFF' }}}}",
        )  # fmt: skip
