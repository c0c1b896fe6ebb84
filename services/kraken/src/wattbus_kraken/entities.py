"""Home Assistant entities of a tariff: whether a smart window runs, when it ends, when the
next starts, how many are planned, and the dispatched device's own state.

Each is one `Entity`; the three that read into the window list get a template of their own
(the generic one reads a top-level field), set here next to the entity they belong to.
"""

from __future__ import annotations

from typing import Any

from wattbus.discovery import DeviceInfo, Entity, device_config
from wattbus.topics import Topics

ENTITIES = (
    Entity("active", "binary_sensor", "Smart charge window", device_class="running"),
    Entity("current_end", "sensor", "Window ends", device_class="timestamp"),
    Entity("next_start", "sensor", "Next window starts", device_class="timestamp"),
    Entity("planned", "sensor", "Windows planned", state_class="measurement", precision=0),
    Entity("device_state", "sensor", "Device state"),
    Entity("fetched", "sensor", "Dispatches fetched", device_class="timestamp",
           category="diagnostic"),
    Entity("source", "sensor", "Dispatch query", category="diagnostic"),
)  # fmt: skip

# Jinja over the published TariffState; `default(None)` shows unknown, not a stale value
TEMPLATES = {
    "current_end": "{{ value_json.current.end if value_json.current is defined else None }}",
    "next_start": "{{ value_json.windows | selectattr('start', 'gt', value_json.ts)"
    " | map(attribute='start') | first | default(None) }}",
    "planned": "{{ value_json.windows | length }}",
}


def discovery(
    topics: Topics, info: DeviceInfo, removed: dict[str, str] | None = None
) -> dict[str, Any]:
    config = device_config(topics, info, ENTITIES, removed=removed)
    for key, template in TEMPLATES.items():
        config["cmps"][key]["value_template"] = template
    return config
