"""The invite as a mail client and a calendar read it: the message is parsed back with the
standard library and icalendar, as a receiving client would."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from icalendar import Calendar
from wattbus_controller.invite_mail import Letterhead, message
from wattbus_controller.invites import Action, Invite, Status
from wattbus_controller.settings import ControllerSettings

NOW = datetime(2026, 11, 25, 18, 0, 5, tzinfo=UTC)
HEAD = Letterhead("kraken", "wattbus@home.test", ("owner@home.test", "partner@home.test"),
                  0.07, 0.245, "£", ZoneInfo("Europe/London"))  # fmt: skip
INVITE = Invite(
    uid="kraken-20261125T180000Z@wattbus",
    sequence=0,
    start=datetime(2026, 11, 25, 18, tzinfo=UTC),
    end=datetime(2026, 11, 25, 19, tzinfo=UTC),
    held_to=datetime(2026, 11, 25, 19, tzinfo=UTC),
    status=Status.HELD,
    energy=7400.0,
    energy_from="charger",
    power=7400.0,
)


def parsed(action: Action, head: Letterhead = HEAD) -> tuple[EmailMessage, Calendar]:
    raw = message(action, head, NOW).as_bytes()
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    (part,) = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    return mail, Calendar.from_ical(part.get_content())


def test_a_sent_invite_is_a_request_with_its_window_in_utc_and_every_recipient() -> None:
    mail, cal = parsed(Action("send", INVITE))
    assert cal["method"] == "REQUEST"
    (event,) = cal.events
    assert event["uid"] == INVITE.uid and event["sequence"] == 0
    assert event.decoded("dtstart") == INVITE.start and event.decoded("dtend") == INVITE.end
    assert event.decoded("dtstart").tzinfo is not None
    assert event.decoded("dtstamp") == NOW
    assert event["status"] == "CONFIRMED"
    assert str(event.organizer) == "mailto:wattbus@home.test"
    assert [str(a) for a in event.attendees] == [
        "mailto:owner@home.test",
        "mailto:partner@home.test",
    ]
    assert mail["To"] == "owner@home.test, partner@home.test"
    assert mail["Subject"] == "EV smart charge Wed 25 Nov 18:00-19:00"


def test_the_description_gives_kwh_the_cost_at_both_rates_and_the_saving() -> None:
    _, cal = parsed(Action("send", INVITE))
    (event,) = cal.events
    text = str(event["description"])
    assert "about 7.4 kWh, the charger's 7.4 kW over the window" in text
    assert "cheap rate (£0.07/kWh): £0.52" in text
    assert "standard rate (£0.245/kWh): £1.81" in text
    assert "Saving: £1.29" in text


def test_without_rates_or_energy_there_is_no_cost() -> None:
    plain = Letterhead("kraken", "w@home.test", ("o@home.test",), None, None, "£", HEAD.timezone)
    _, cal = parsed(Action("send", INVITE), plain)
    text = str(cal.events[0]["description"])
    assert "7.4 kWh" in text and "£" not in text
    unknown = INVITE.model_copy(update={"energy": None, "energy_from": None, "power": None})
    _, cal = parsed(Action("send", unknown))
    text = str(cal.events[0]["description"])
    assert "no estimate" in text and "kWh:" not in text and "£" not in text


def test_a_cancel_is_method_cancel_and_status_cancelled() -> None:
    cancelled = INVITE.model_copy(update={"sequence": 1, "status": Status.CANCELLED})
    mail, cal = parsed(Action("cancel", cancelled))
    assert cal["method"] == "CANCEL"
    (event,) = cal.events
    assert event["status"] == "CANCELLED" and event["sequence"] == 1
    assert mail["Subject"].startswith("Cancelled: ")
    (part,) = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "CANCEL"


def test_the_mail_is_a_text_the_calendar_part_and_the_ics_attached() -> None:
    mail, _ = parsed(Action("update", INVITE.model_copy(update={"sequence": 1})))
    assert mail.get_content_type() == "multipart/mixed"
    types = [p.get_content_type() for p in mail.walk() if not p.is_multipart()]
    assert types == ["text/plain", "text/calendar", "application/ics"]
    (calendar_part,) = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert calendar_part.get_param("method") == "REQUEST"
    (ics,) = [p for p in mail.walk() if p.get_content_type() == "application/ics"]
    assert ics.get_filename() == "invite.ics"
    assert Calendar.from_ical(ics.get_content())["method"] == "REQUEST"
    (text,) = [p for p in mail.walk() if p.get_content_type() == "text/plain"]
    assert "has moved" in text.get_content()
    assert mail["Subject"].startswith("Updated: ")


def test_a_window_past_midnight_names_both_days_in_local_time() -> None:
    late = INVITE.model_copy(update={"start": datetime(2026, 7, 1, 22, 30, tzinfo=UTC),
                                     "end": datetime(2026, 7, 1, 23, 30, tzinfo=UTC)})  # fmt: skip
    mail, _ = parsed(Action("send", late))
    assert mail["Subject"] == "EV smart charge Wed 01 Jul 23:30-Thu 02 Jul 00:30"  # BST


def test_the_letterhead_comes_from_the_settings() -> None:
    s = ControllerSettings.only(tariff="kraken", smtp_host="127.0.0.1",
                                invite_from="w@home.test", invite_to="a@home.test, b@home.test",
                                cheap_rate=0.07, currency="€")  # fmt: skip
    head = Letterhead.of(s)
    assert head.recipients == ("a@home.test", "b@home.test")
    assert (head.cheap_rate, head.standard_rate, head.currency) == (0.07, None, "€")
