"""The v1 topic contract: every topic a wattbus service reads or writes is built here."""

from __future__ import annotations

from dataclasses import dataclass

CONTROLLER_ID = "controller"


@dataclass(frozen=True)
class Topics:
    """Topics under a prefix (`wattbus`, or `wattbus/<site>` for several homes on one broker)."""

    prefix: str = "wattbus"
    discovery_prefix: str = "homeassistant"

    def state(self, device_id: str) -> str:
        return f"{self.prefix}/{device_id}/state"

    def availability(self, device_id: str) -> str:
        return f"{self.prefix}/{device_id}/availability"

    def set(self, device_id: str) -> str:
        return f"{self.prefix}/{device_id}/set"

    def set_field(self, device_id: str, field: str) -> str:
        return f"{self.prefix}/{device_id}/set/{field}"

    def event(self, device_id: str) -> str:
        return f"{self.prefix}/{device_id}/event"

    def health(self, device_id: str) -> str:
        """A bridge's own word on its device: when it last answered, failures in a row."""
        return f"{self.prefix}/{device_id}/health"

    @property
    def home_health(self) -> str:
        """Every service and device at once, as the controller sees them."""
        return f"{self.prefix}/health"

    def discovery(self, node_id: str) -> str:
        """Home Assistant device-based discovery: one config for all of a device's entities."""
        return f"{self.discovery_prefix}/device/{node_id}/config"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def device_of(self, topic: str) -> str | None:
        """The device id in a topic under this prefix, or None for a foreign topic."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        device_id, slash, _ = topic[len(head) :].partition("/")
        return device_id if device_id and slash else None  # `<prefix>/health` is no device
