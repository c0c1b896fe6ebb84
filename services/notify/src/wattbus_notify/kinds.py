"""What a person is told about: each kind of notice, read from the events and availability
every service already publishes. Nothing here is sent; `limits.py` decides what goes out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from wattbus.models import Event, EventKind


class Kind(StrEnum):
    EV_DETECTED = "ev_detected"
    EV_ENDED = "ev_ended"
    BATTERY_HELD = "battery_held"
    BATTERY_RESTORED = "battery_restored"
    DISPATCH_HELD = "dispatch_held"
    DISPATCH_RELEASED = "dispatch_released"
    DEVICE_OFFLINE = "device_offline"
    DEVICE_BACK = "device_back"
    COMMAND_REJECTED = "command_rejected"
    LEASE_EXPIRED = "lease_expired"
    RESTORE_FAILED = "restore_failed"


# how each kind reads in a line and in a digest's count
LABELS = {
    Kind.EV_DETECTED: "EV charging detected",
    Kind.EV_ENDED: "EV charging ended",
    Kind.BATTERY_HELD: "battery held",
    Kind.BATTERY_RESTORED: "battery restored",
    Kind.DISPATCH_HELD: "dispatch window held",
    Kind.DISPATCH_RELEASED: "dispatch window released",
    Kind.DEVICE_OFFLINE: "device offline",
    Kind.DEVICE_BACK: "device back",
    Kind.COMMAND_REJECTED: "command rejected",
    Kind.LEASE_EXPIRED: "hold lease expired",
    Kind.RESTORE_FAILED: "restore failed",
}

# The controller's and the battery bridges' own codes (docs/topics.md), one kind each
CODES = {
    "ev_detected": Kind.EV_DETECTED,
    "ev_ended": Kind.EV_ENDED,
    "battery_held": Kind.BATTERY_HELD,
    "dispatch_hold": Kind.DISPATCH_HELD,
    "dispatch_release": Kind.DISPATCH_RELEASED,
    "lease_expired": Kind.LEASE_EXPIRED,
    "restore_failed": Kind.RESTORE_FAILED,
}
# A battery bridge answers `{"hold": false}` with what the release did. `nothing` (there was
# no hold: the controller's repeated releases) is no news; the other three gave settings back.
RESTORING = ("release: restored", "release: substituted", "release: fallback")
# why a lease running out matters to a person, which the bridge's words do not say
LEASE_MEANS = "the controller stopped renewing it: stopped, crashed or cut off"


@dataclass(frozen=True)
class Notice:
    """One thing that happened, on `device`, said in `why` (the publisher's own words)."""

    kind: Kind
    device: str
    why: str

    def line(self, home: str) -> str:
        """The one line a person reads: the home, what happened, where, and why."""
        return f"{home}: {LABELS[self.kind]} on {self.device}: {self.why}"


def from_event(device: str, event: Event) -> Notice | None:
    """The notice an event on `wattbus/<device>/event` makes, or None for one that is no news
    (an applied command, a renewal, a code nobody asked to be told of)."""
    if event.kind is EventKind.REJECTED:
        return Notice(Kind.COMMAND_REJECTED, device, _why(event, "no reason given"))
    if event.kind is EventKind.APPLIED:
        command = event.command or {}
        reason = event.reason or ""
        if command.get("hold") is False and reason.startswith(RESTORING):
            return Notice(Kind.BATTERY_RESTORED, device, reason)
        return None
    kind = CODES.get(event.code or "")
    if kind is None:
        return None
    why = _why(event, event.code or "")
    if kind is Kind.LEASE_EXPIRED:
        why = f"{why} ({LEASE_MEANS})"
    return Notice(kind, device, why)


def from_availability(device: str, was: str | None, now: str) -> Notice | None:
    """A change of availability; the first value seen (the retained one, at every connect)
    is only remembered, so a restart of this service tells nobody anything."""
    if was is None or was == now:
        return None
    if now == "offline":
        return Notice(Kind.DEVICE_OFFLINE, device, "it says offline (unreachable, or stopped)")
    if was == "offline" and now == "online":
        return Notice(Kind.DEVICE_BACK, device, "it says online again")
    return None


def _why(event: Event, default: str) -> str:
    return event.reason or default
