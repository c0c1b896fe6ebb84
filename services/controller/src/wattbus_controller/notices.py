"""The guard's decisions as `notice` events, for a person (the demo, Node-RED, notifications).

Derived from how the controller's memory changed in one evaluation, so the policy stays free of
I/O and the notices can never disagree with what the controller remembers: a session that
starts or ends, a battery that the controller starts to hold or to release. A renewal or a
resend changes nothing there, so it makes no notice.
"""

from __future__ import annotations

from datetime import datetime

from wattbus.models import Event, EventKind

from wattbus_controller.ev_guard import Decision, GuardSettings
from wattbus_controller.memory import Memory


def _notice(now: datetime, code: str, reason: str, **data: object) -> Event:
    return Event(ts=now, kind=EventKind.NOTICE, code=code, reason=reason, data=data)


def _battery(now: datetime, code: str, what: str, battery: str, why: str) -> Event:
    return _notice(now, code, f"{what}: {why}", battery=battery, why=why)


def notices(
    before: Memory, after: Memory, decision: Decision, settings: GuardSettings, now: datetime
) -> list[Event]:
    found = []
    power = decision.house_power
    if after.guard.charging != before.guard.charging:
        code = "ev_detected" if after.guard.charging else "ev_ended"
        found.append(
            _notice(
                now,
                code,
                decision.reason,
                house_power=power,
                threshold=settings.threshold,
                signal=decision.signal,
            )
        )
    for battery in sorted(after.asserted - before.asserted):
        found.append(_battery(now, "battery_held", f"holding {battery}", battery, decision.reason))
    for battery in sorted(after.releasing - before.releasing):
        why = decision.reason
        if battery not in before.asserted:
            why = f"a hold the guard did not place; {why}"
        found.append(_battery(now, "battery_released", f"releasing {battery}", battery, why))
    return found
