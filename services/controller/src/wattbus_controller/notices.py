"""The controller's decisions as `notice` events, for a person (the demo, Node-RED, notifications).

Derived from how the controller's memory changed in one evaluation, so the policies stay free
of I/O and the notices can never disagree with what the controller remembers: a session that
starts or ends, a dispatch hold that begins or ends, a battery that the controller starts to
hold or to release. A renewal or a resend changes nothing there, so it makes no notice.
"""

from __future__ import annotations

from datetime import datetime

from wattbus.models import Event, EventKind

from wattbus_controller.core import Decision
from wattbus_controller.ev_guard import GuardSettings
from wattbus_controller.memory import Memory


def _notice(now: datetime, code: str, reason: str, **data: object) -> Event:
    return Event(ts=now, kind=EventKind.NOTICE, code=code, reason=reason, data=data)


def _battery(now: datetime, code: str, what: str, battery: str, why: str) -> Event:
    return _notice(now, code, f"{what}: {why}", battery=battery, why=why)


def notices(
    before: Memory, after: Memory, decision: Decision, settings: GuardSettings, now: datetime
) -> list[Event]:
    found = []
    guard = decision.guard
    if after.guard.charging != before.guard.charging:
        code = "ev_detected" if after.guard.charging else "ev_ended"
        found.append(
            _notice(
                now,
                code,
                guard.reason,
                house_power=guard.house_power,
                threshold=settings.threshold,
                signal=guard.signal,
            )
        )
    held_for, was = after.dispatch.until, before.dispatch.until
    if decision.dispatch is not None and (held_for is None) != (was is None):
        code = "dispatch_hold" if held_for is not None else "dispatch_release"
        until = None if held_for is None else held_for.isoformat()
        found.append(
            _notice(now, code, decision.dispatch.reason, until=until, sign=decision.dispatch.sign)
        )
    for battery in sorted(after.asserted - before.asserted):
        why = decision.verdicts[battery].reason
        found.append(_battery(now, "battery_held", f"holding {battery}", battery, why))
    for battery in sorted(after.releasing - before.releasing):
        why = decision.verdicts[battery].reason
        if battery not in before.asserted:
            why = f"a hold the controller did not place; {why}"
        found.append(_battery(now, "battery_released", f"releasing {battery}", battery, why))
    return found
