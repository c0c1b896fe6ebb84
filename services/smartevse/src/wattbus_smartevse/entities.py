"""Home Assistant entities for what the bridge adds to a SmartEVSE, on the charger's own device.

The firmware announces its own entities (mode, currents, state...) with the device block
`identifiers: <its MQTT prefix>`, `name: <prefix>`, `manufacturer: Stegen`, `model: SmartEVSE v3`
(dingo35/SmartEVSE-3.5, `MQTTclient_t::announce`). The same identifier here puts the feed's
entities on that device, beside the charger's own, instead of on a second device. The
identifier is derived from the prefix exactly as the firmware derives it, so it needs nothing
the charger publishes. The name, manufacturer and model are the firmware's own, so that a
device Home Assistant first learns of from wattbus looks the same; its software version and
address are left to the firmware."""

from __future__ import annotations

from typing import Any

from wattbus.discovery import DeviceInfo, Entity, device_config
from wattbus.topics import Topics

from wattbus_smartevse.passthrough import Passthrough
from wattbus_smartevse.settings import RESERVE_MAX

MANUFACTURER = "Stegen"  # the firmware's words
MODEL = "SmartEVSE v3"
RESERVE_STEP = 0.5  # A

ENTITIES = (
    Entity("feed_active", "binary_sensor", "Mains feed", device_class="running"),
    Entity("last_feed", "sensor", "Last mains feed", device_class="timestamp",
           category="diagnostic"),
    Entity("meter", "sensor", "Mains feed source", category="diagnostic"),
    Entity("split", "binary_sensor", "Mains feed split from total power",
           category="diagnostic"),
    Entity("passthrough", "select", "Battery passthrough", writable=True,
           options=tuple(p.value for p in Passthrough), category="config"),
    Entity("reserve", "number", "Battery reserve", unit="A", device_class="current",
           writable=True, minimum=RESERVE_STEP, maximum=RESERVE_MAX, step=RESERVE_STEP,
           category="config"),
    Entity("passthrough_current", "sensor", "Battery current passed through", unit="A",
           device_class="current", state_class="measurement", precision=1),
)  # fmt: skip


def discovery(
    topics: Topics,
    device_id: str,
    prefix: str,
    feed_topic: str,
    removed: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The bridge's device-based config; `removed` as for `device_config`."""
    info = DeviceInfo(device_id, prefix, MANUFACTURER, MODEL)
    config = device_config(topics, info, ENTITIES, removed=removed)
    config["dev"] = {"identifiers": [prefix], "name": prefix, "manufacturer": MANUFACTURER,
                     "model": MODEL}  # fmt: skip
    config["state_topic"] = feed_topic
    return config
