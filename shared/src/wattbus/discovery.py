"""Home Assistant MQTT discovery, one device-based config per wattbus device.

Each entity is described once (`Entity`: the state field, its unit and kind); the discovery
payload, the `set/<field>` command topic and the value template all derive from that table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal, get_args

import annotated_types

from wattbus.topics import Topics

Platform = Literal["sensor", "binary_sensor", "number", "select", "switch"]

ORIGIN_URL = "https://github.com/wattbus/wattbus"


def _origin() -> dict[str, str]:
    try:
        sw = version("wattbus")
    except PackageNotFoundError:  # running from a source tree without metadata
        sw = "0"
    return {"name": "wattbus", "sw": sw, "url": ORIGIN_URL}


def bounds(kind: Any) -> tuple[float, float]:
    """(minimum, maximum) of a range from `wattbus.models` (`Threshold`, `Percent`, ...), for a
    number entity: Home Assistant then offers exactly what the command accepts."""
    low = high = None
    for extra in get_args(kind)[1:]:
        for rule in getattr(extra, "metadata", ()):
            if isinstance(rule, annotated_types.Ge):
                low = float(rule.ge)  # type: ignore[arg-type]
            elif isinstance(rule, annotated_types.Le):
                high = float(rule.le)  # type: ignore[arg-type]
    if low is None or high is None:
        raise ValueError(f"{kind!r} has no closed range")
    return low, high


@dataclass(frozen=True)
class Entity:
    """One state field as a Home Assistant entity; `writable` adds `set/<key>` as command topic."""

    key: str
    platform: Platform
    name: str
    unit: str | None = None
    device_class: str | None = None
    state_class: Literal["measurement", "total_increasing"] | None = None
    writable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    options: tuple[str, ...] = ()
    category: Literal["config", "diagnostic"] | None = None
    precision: int | None = None
    # the component's id in the device's discovery, if not `key`: a new id for an entity that
    # changes platform, so the old one is removed (see `removed_components`), not left behind
    component_id: str | None = None
    # for a value inside a map of the state (`strategies['garage']`), read and set through the
    # JSON `set` topic with a template, as one entity per charger needs
    value_path: str | None = None
    command_template: str | None = None
    # an entity read off another topic than its device's state (the home's health), with a
    # template of its own
    state_topic: str | None = None
    value_template: str | None = None

    @property
    def id(self) -> str:
        return self.component_id or self.key

    @classmethod
    def power(cls, key: str, name: str) -> Entity:
        """A power sensor in W, the most common entity of all."""
        return cls(key, "sensor", name, unit="W", device_class="power",
                   state_class="measurement", precision=0)  # fmt: skip

    def component(self, topics: Topics, device_id: str) -> dict[str, Any]:
        # The entity id, the same on every Home Assistant release: `default_entity_id` since
        # 2025.10 (which warns about `object_id` and ignores it since 2026.4), `object_id`
        # before. Without them a current release names it from device and entity names.
        object_id = f"{device_id}_{self.id}".replace("-", "_")
        c: dict[str, Any] = {
            "p": self.platform,
            "name": self.name,
            "unique_id": f"wattbus_{device_id}_{self.id}",
            "default_entity_id": f"{self.platform}.{object_id}",
            "object_id": object_id,
        }
        if self.state_topic is not None:
            c["state_topic"] = self.state_topic
        if self.value_template is not None:
            c["value_template"] = self.value_template
        elif self.value_path is not None:
            c["value_template"] = f"{{{{ value_json.{self.value_path} | default(None) }}}}"
        elif self.platform in ("binary_sensor", "switch"):
            c["value_template"] = f"{{{{ 'ON' if value_json.{self.key} else 'OFF' }}}}"
        else:
            # a field left out of the state (not measured now) renders `None`, which Home
            # Assistant shows as unknown rather than freezing the last value
            c["value_template"] = f"{{{{ value_json.{self.key} | default(None) }}}}"
        optional = {
            "unit_of_measurement": self.unit,
            "device_class": self.device_class,
            "state_class": self.state_class,
            "min": self.minimum,
            "max": self.maximum,
            "step": self.step,
            "entity_category": self.category,
            "suggested_display_precision": self.precision,
        }
        c.update({k: v for k, v in optional.items() if v is not None})
        if self.options:
            c["options"] = list(self.options)
        if self.command_template is not None:
            c["command_topic"] = topics.set(device_id)
            c["command_template"] = self.command_template
        elif self.writable:
            c["command_topic"] = topics.set_field(device_id, self.key)
        if self.platform == "number":
            c["mode"] = "box"
        return c


@dataclass(frozen=True)
class DeviceInfo:
    device_id: str
    name: str
    manufacturer: str
    model: str
    serial: str | None = None
    sw_version: str | None = None

    def block(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "identifiers": [f"wattbus_{self.device_id}"],
            "name": self.name,
            "manufacturer": self.manufacturer,
            "model": self.model,
        }
        if self.serial:
            d["serial_number"] = self.serial
        if self.sw_version:
            d["sw_version"] = self.sw_version
        return d


def device_config(
    topics: Topics,
    device: DeviceInfo,
    entities: tuple[Entity, ...],
    *,
    removed: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The device's discovery payload. `removed` (component id -> platform) lists entities
    published before but no longer offered: Home Assistant drops a component sent with `p` only."""
    cmps: dict[str, Any] = {e.id: e.component(topics, device.device_id) for e in entities}
    for key, platform in (removed or {}).items():
        cmps.setdefault(key, {"p": platform})
    return {
        "dev": device.block(),
        "o": _origin(),
        "cmps": cmps,
        "state_topic": topics.state(device.device_id),
        "availability": [{"topic": topics.availability(device.device_id)}],
        "qos": 1,
    }


def removed_components(old_payload: bytes, entities: tuple[Entity, ...]) -> dict[str, str]:
    """Components in an earlier retained discovery payload that `entities` no longer has."""
    try:
        old = json.loads(old_payload)
        cmps = old["cmps"]
        current = {e.id for e in entities}
        return {
            k: str(v["p"])
            for k, v in cmps.items()
            if k not in current and isinstance(v, dict) and len(v) > 1
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}
