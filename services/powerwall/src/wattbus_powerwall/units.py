"""The Powerwall's scales and signs, converted to wattbus's here and nowhere else.

- The gateway keeps 5 % of the battery out of reach. Its raw percentages (`/api/system_status/soe`
  and `backup_reserve_percent` in `/api/operation`) run from that buffer up, and the Tesla app
  shows `raw / 0.95 - 5 / 0.95`: raw 5 % is 0 % in the app, raw 100 % is 100 %. wattbus publishes
  and takes the app's scale, which is what the owner sees and sets.
- pypowerwall's battery power is > 0 while discharging; wattbus's is > 0 while charging.
  Site power is > 0 importing in both, solar > 0 producing.
"""

from __future__ import annotations

BUFFER = 5.0  # %, of the raw scale the app does not show
SPAN = (100.0 - BUFFER) / 100.0  # 0.95: one app percent in raw percent


def app_percent(raw: float) -> float:
    """A raw gateway percentage as the app shows it, within 0-100."""
    return min(max((raw - BUFFER) / SPAN, 0.0), 100.0)


RAW_DIGITS = 6  # decimals a raw percent is written with: a round trip drops its float error


def raw_percent(app: float) -> float:
    """An app percentage as the gateway's raw scale, for a local `/api/operation` write. A raw
    value read and converted comes back exactly (raw 30 % is app 26.3157... % is raw 30 %)."""
    return round(app * SPAN + BUFFER, RAW_DIGITS)


def battery_power(discharging: float) -> float:
    """pypowerwall's battery power (> 0 discharging) in wattbus's sign (> 0 charging)."""
    return 0.0 - discharging  # not -x: no -0.0 on the bus for a battery at rest
