"""The home's health from what every service says of itself: its availability (a bridge's
last will turns it `offline` when the bridge dies) and a bridge's health word (when its device
last answered, failed reads in a row). Pure: what was heard in, `HomeHealth` and the status
line out.

`problem` is a service or device that is offline; `degraded`, one that is online but whose
last reads failed (it goes offline after `WATTBUS_OFFLINE_AFTER` of them). A device that was
removed on purpose stays `offline` on the broker (its availability is retained) until its
retained message is cleared, which the shell takes as the device gone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from wattbus.models import BridgeHealth, DeviceHealth, HomeHealth, HomeStatus


@dataclass(frozen=True)
class Heard:
    online: bool | None = None  # None: its availability not heard
    health: BridgeHealth | None = None


def device_health(heard: Heard) -> DeviceHealth:
    h = heard.health
    if h is None:
        return DeviceHealth(online=heard.online)
    return DeviceHealth(online=heard.online, last_success=h.last_success,
                        failures=h.failures, error=h.error)  # fmt: skip


def _problem(device_id: str, d: DeviceHealth) -> str | None:
    failed = f"{d.failures} failed read(s): {d.error}" if d.failures else ""
    if d.online is False:
        return f"{device_id} offline" + (f" ({failed})" if failed else "")
    if d.failures:
        return f"{device_id} {failed}"
    return None


def summary(heard: Mapping[str, Heard], now: datetime) -> HomeHealth:
    devices = {i: device_health(heard[i]) for i in sorted(heard)}
    problems = tuple(p for i, d in devices.items() if (p := _problem(i, d)) is not None)
    status: HomeStatus = "ok"
    if any(d.online is False for d in devices.values()):
        status = "problem"
    elif problems:
        status = "degraded"
    return HomeHealth(ts=now, status=status, problems=problems, devices=devices)


def _ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    seconds = max((now - then).total_seconds(), 0.0)
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def status_line(home: HomeHealth) -> str:
    """One line for the log, as the tool wattbus replaces wrote every 5 minutes."""
    online = [i for i, d in home.devices.items() if d.online]
    line = f"health {home.status}: {len(online)} of {len(home.devices)} online"
    if home.problems:
        line += "; " + "; ".join(home.problems)
    reads = [f"{i} {_ago(d.last_success, home.ts)}" for i, d in home.devices.items()
             if d.last_success is not None]  # fmt: skip
    if reads:
        line += "; last reads: " + ", ".join(reads)
    return line
