"""What a Smappee's 5-minute blocks mean, as a `MeterState`: pure functions of the cloud's
answer and `now`.

A 5-minute value is energy in Wh over its block; W = Wh x 12 (the API's own tip), converted
here and nowhere else. The grid's power is not among the confirmed fields: it is derived as
consumption - solar (> 0 import). `gridImport`/`gridExport`, which no source confirms, are
used instead when a block carries both. `ts` is the block's own timestamp (taken as its
start), never the time it was read, and `span` says it averages 300 s. A value the block
does not carry stays None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from wattbus.models import MeterState

BLOCK = timedelta(minutes=5)
PER_HOUR = timedelta(hours=1) / BLOCK  # 12: Wh in a block → W


@dataclass(frozen=True)
class Block:
    """One 5-minute block, in the cloud's units (Wh)."""

    start: datetime
    consumption: float | None
    solar: float | None = None
    always_on: float | None = None
    grid_import: float | None = None  # unconfirmed field
    grid_export: float | None = None  # unconfirmed field


def _wh(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def blocks(body: dict[str, Any]) -> list[Block]:
    """The answer's blocks, oldest first; an entry without a timestamp in ms is left out."""
    found = []
    for entry in body.get("consumptions") or []:
        if not isinstance(entry, dict):
            continue
        ms = entry.get("timestamp")
        if isinstance(ms, bool) or not isinstance(ms, int):
            continue
        found.append(Block(
            datetime.fromtimestamp(ms / 1000, UTC), _wh(entry.get("consumption")),
            _wh(entry.get("solar")), _wh(entry.get("alwaysOn")),
            _wh(entry.get("gridImport")), _wh(entry.get("gridExport")),
        ))  # fmt: skip
    return sorted(found, key=lambda b: b.start)


def latest_complete(found: list[Block], now: datetime) -> Block | None:
    """The newest block that has ended by `now` and says what the house used."""
    done = [b for b in found if b.start + BLOCK <= now and b.consumption is not None]
    return done[-1] if done else None


def _watts(wh: float | None) -> float | None:
    return None if wh is None else round(wh * PER_HOUR, 1)


def grid_wh(block: Block) -> float | None:
    if block.grid_import is not None and block.grid_export is not None:
        return block.grid_import - block.grid_export
    if block.consumption is None:
        return None
    return block.consumption - (block.solar or 0.0)


def meter_state(block: Block) -> MeterState | None:
    power = _watts(grid_wh(block))
    if power is None:
        return None
    return MeterState(
        ts=block.start,
        power=power,
        span=BLOCK.total_seconds(),
        load_power=_watts(block.consumption),
        pv_power=_watts(block.solar),
        always_on=_watts(block.always_on),
    )
