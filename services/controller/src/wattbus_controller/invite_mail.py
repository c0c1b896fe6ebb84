"""An invite action as the mail a calendar reads: an iCalendar REQUEST (or CANCEL) in the
multipart form mail clients expect of an invitation, a short text part, the calendar part
with its method, and the same .ics attached for the clients that only read attachments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress

from wattbus_controller.invites import Action, Invite, Status
from wattbus_controller.settings import ControllerSettings

PRODID = "-//wattbus//dispatch invites//EN"
SUMMARY = "EV smart charge"


@dataclass(frozen=True)
class Letterhead:
    """What every invite says besides its window: who sends it, to whom, and at which rates."""

    tariff: str
    sender: str
    recipients: tuple[str, ...]
    cheap_rate: float | None
    standard_rate: float | None
    currency: str
    timezone: ZoneInfo

    @classmethod
    def of(cls, s: ControllerSettings) -> Letterhead:
        assert s.tariff is not None and s.invite_from is not None
        return cls(s.tariff, s.invite_from, tuple(s.invite_to), s.cheap_rate, s.standard_rate,
                   s.currency, s.timezone)  # fmt: skip


def message(action: Action, head: Letterhead, now: datetime) -> EmailMessage:
    invite = action.invite
    method = "CANCEL" if action.kind == "cancel" else "REQUEST"
    ics = calendar(invite, method, head, now).to_ical()
    mail = EmailMessage()
    mail["Subject"] = f"{_SUBJECTS[action.kind]}{SUMMARY} {_span(invite, head.timezone)}"
    mail["From"] = head.sender
    mail["To"] = ", ".join(head.recipients)
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = make_msgid("invite", head.sender.partition("@")[2])
    mail.set_content(f"{_LEADS[action.kind]}\n\n{description(invite, head)}\n")
    # as bytes, so its lines keep the CRLF endings RFC 5545 asks for
    calendar_part = {"method": method, "charset": "utf-8"}
    mail.add_alternative(ics, maintype="text", subtype="calendar", params=calendar_part)
    mail.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    return mail


_SUBJECTS = {"send": "", "update": "Updated: ", "trim": "Ended: ", "cancel": "Cancelled: "}
_LEADS = {
    "send": "The car charges in a smart-charge window: the whole house pays the cheap rate.",
    "update": "The smart-charge window has moved.",
    "trim": "The smart charge has ended.",
    "cancel": "The supplier withdrew the smart-charge window before it ran its course.",
}


def calendar(invite: Invite, method: str, head: Letterhead, now: datetime) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", invite.uid)
    event.add("sequence", invite.sequence)
    event.add("dtstamp", now)
    event.add("dtstart", invite.start)
    event.add("dtend", invite.end)
    event.add("summary", SUMMARY)
    event.add("description", description(invite, head))
    event.add("status", "CANCELLED" if invite.status is Status.CANCELLED else "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # the owner is not busy while the car charges
    organizer = vCalAddress(f"mailto:{head.sender}")
    organizer.params["cn"] = "wattbus"
    event.add("organizer", organizer)
    for to in head.recipients:
        attendee = vCalAddress(f"mailto:{to}")
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["rsvp"] = "FALSE"  # nothing to answer: the charge happens anyway
        event.add("attendee", attendee)
    cal.add_component(event)
    return cal


def description(invite: Invite, head: Letterhead) -> str:
    lines = [f"Tariff {head.tariff}: smart charge {_span(invite, head.timezone)}."]
    if invite.energy is None:
        lines.append("Energy: no estimate (the supplier gave none, the charger no power).")
        return "\n".join(lines)
    kwh = invite.energy / 1000
    if invite.energy_from == "supplier":
        lines.append(f"Energy: {kwh:.1f} kWh, as the supplier plans it.")
    else:
        assert invite.power is not None
        lines.append(f"Energy: about {kwh:.1f} kWh, the charger's {invite.power / 1000:.1f} kW "
                     "over the window.")  # fmt: skip
    cheap, standard, c = head.cheap_rate, head.standard_rate, head.currency
    if cheap is not None:
        lines.append(f"Cost at the cheap rate ({c}{cheap:g}/kWh): {c}{kwh * cheap:.2f}.")
    if standard is not None:
        lines.append(f"At the standard rate ({c}{standard:g}/kWh): {c}{kwh * standard:.2f}.")
    if cheap is not None and standard is not None:
        lines.append(f"Saving: {c}{kwh * (standard - cheap):.2f}.")
    return "\n".join(lines)


def _span(invite: Invite, zone: ZoneInfo) -> str:
    start, end = invite.start.astimezone(zone), invite.end.astimezone(zone)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a %d %b %H:%M}"
    return f"{start:%a %d %b %H:%M}-{until}"
