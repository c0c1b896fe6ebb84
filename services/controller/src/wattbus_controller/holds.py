"""Which command a battery needs now: the guard's wish, what the battery reports, and what was
sent to it last. Pure, so that renewal and resend are tested with plain values and a fake
clock; the shell only sends what this says.

Nothing relies on one message arriving: a hold the battery does not show is sent again, and
so is a release while the battery still reports a hold (a bridge that was restarting, a
broker that was away, a device that failed the restore).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wattbus.models import BatteryState

RENEW_FRACTION = 3  # renew a hold when a third of its lease has passed
RESEND_AFTER = 5.0  # s before a command the battery has not acted on is sent again


@dataclass(frozen=True)
class Sent:
    hold: bool
    at: datetime


@dataclass(frozen=True)
class Plan:
    """`send`: True = send a hold (or renewal), False = send a release, None = nothing now.
    `held`: the guard holds this battery. `releasing`: a release is out, and the battery has
    not yet reported itself free."""

    send: bool | None
    held: bool
    releasing: bool


def plan(
    want: bool | None,
    battery: BatteryState | None,
    held: bool,
    releasing: bool,
    last: Sent | None,
    now: datetime,
    lease: float,
) -> Plan:
    """`want` is the guard's decision: True holds, False owns every hold and releases any the
    battery reports (whoever placed it), None (mode `off`) finishes only the guard's own."""
    age = (now - last.at).total_seconds() if last else float("inf")
    if want:
        due = (
            not held
            or last is None
            or not last.hold
            or age >= lease / RENEW_FRACTION
            or (battery is not None and not battery.hold and age >= RESEND_AFTER)
        )
        return Plan(True if due else None, held=True, releasing=False)
    reports_hold = battery is None or battery.hold  # unknown counts as held: keep releasing
    if releasing and not reports_hold:
        return Plan(None, held=False, releasing=False)  # the battery shows the release
    foreign = want is False and battery is not None and battery.hold
    if not (held or releasing or foreign):
        return Plan(None, held=False, releasing=False)
    due = last is None or last.hold or age >= RESEND_AFTER
    return Plan(False if due else None, held=False, releasing=True)
