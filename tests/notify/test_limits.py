"""The limiter on plain values and a hand-moved clock: what goes out, what is held back, and
the digest that counts it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from wattbus.models import Event
from wattbus_notify.kinds import Kind, Notice, from_availability, from_event
from wattbus_notify.limits import Limiter, Rules
from wattbus_notify.quiet import QuietHours

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def rules(**changes: object) -> Rules:
    values: dict[str, object] = {
        "home": "Elm Cottage",
        "intervals": dict.fromkeys(Kind, timedelta(minutes=15)),
        "enabled": frozenset(Kind),
        "per_hour": 20,
    }
    return Rules(**(values | changes))  # type: ignore[arg-type]


OFFLINE = Notice(Kind.DEVICE_OFFLINE, "grid-meter", "it says offline")
BACK = Notice(Kind.DEVICE_BACK, "grid-meter", "it says online again")


def test_a_kind_goes_once_per_interval_and_its_digest_counts_the_rest() -> None:
    lim = Limiter(rules())
    first = lim.offer(OFFLINE, T0)
    assert first is not None and not first.digest
    for i in range(1, 6):
        assert lim.offer(OFFLINE, T0 + i * MIN) is None
    assert lim.next_due(T0 + 5 * MIN) == T0 + 15 * MIN
    assert lim.due(T0 + 14 * MIN) is None
    digest = lim.due(T0 + 15 * MIN)
    assert digest is not None and digest.digest
    assert "device offline x5" in digest.body
    assert "held back since 18:01 UTC" in digest.body
    assert (lim.sent, lim.held_back) == (2, 5)
    assert lim.due(T0 + 16 * MIN) is None  # nothing left


def test_kinds_are_limited_apart() -> None:
    lim = Limiter(rules())
    assert lim.offer(OFFLINE, T0) is not None
    assert lim.offer(BACK, T0 + MIN) is not None  # another kind: its own interval
    assert lim.offer(OFFLINE, T0 + 2 * MIN) is None


def test_the_overall_cap_holds_back_every_kind() -> None:
    lim = Limiter(rules(per_hour=2))
    assert lim.offer(OFFLINE, T0) is not None
    assert lim.offer(BACK, T0 + MIN) is not None
    ev = Notice(Kind.EV_DETECTED, "controller", "house 9000 W above 5000 W for 3 s")
    assert lim.offer(ev, T0 + 2 * MIN) is None
    assert lim.next_due(T0 + 2 * MIN) == T0 + timedelta(hours=1)
    digest = lim.due(T0 + timedelta(hours=1))
    assert digest is not None and "EV charging detected x1" in digest.body


def test_quiet_hours_hold_everything_until_they_end() -> None:
    london = ZoneInfo("Europe/London")
    quiet = QuietHours(time(22, 0), time(7, 0), london)
    lim = Limiter(rules(quiet=quiet))
    night = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 23:30 in London in winter
    assert lim.offer(OFFLINE, night) is None
    assert lim.offer(BACK, night + MIN) is None
    morning = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    assert lim.next_due(night) == morning
    digest = lim.due(morning)
    assert digest is not None
    assert "device offline x1" in digest.body and "device back x1" in digest.body
    assert lim.offer(OFFLINE, morning + 20 * MIN) is not None  # past its interval, awake


def test_quiet_hours_follow_the_local_clock_in_summer() -> None:
    quiet = QuietHours(time(22, 0), time(7, 0), ZoneInfo("Europe/London"))
    assert quiet.until(datetime(2026, 7, 1, 21, 30, tzinfo=UTC)) == datetime(
        2026, 7, 2, 6, 0, tzinfo=UTC
    )
    assert quiet.until(datetime(2026, 7, 1, 20, 30, tzinfo=UTC)) is None


def test_a_kind_switched_off_is_neither_sent_nor_counted() -> None:
    lim = Limiter(rules(enabled=frozenset(Kind) - {Kind.DEVICE_OFFLINE}))
    assert lim.offer(OFFLINE, T0) is None
    assert (lim.sent, lim.held_back, lim.next_due(T0)) == (0, 0, None)


def test_each_line_names_the_home_and_says_why() -> None:
    lim = Limiter(rules())
    lease = from_event(
        "zendure",
        Event.model_validate_json(
            '{"ts":"2026-12-01T18:01:00.052Z","kind":"notice","reason":"hold lease ran out at '
            '18:01:00: restored min_soc 15 %, output_limit 800 W","code":"lease_expired",'
            '"data":{"restored":{"min_soc":15.0,"output_limit":800.0},'
            '"expired":"2026-12-01T18:01:00+00:00"}}'
        ),
    )
    assert lease is not None
    message = lim.offer(lease, T0)
    assert message is not None
    assert message.body.startswith("Elm Cottage: hold lease expired on zendure:")
    assert "restored min_soc 15 %, output_limit 800 W" in message.body
    assert "the controller stopped renewing it" in message.body


def event(text: str) -> Event:
    return Event.model_validate_json(text)


def test_each_issue_kind_comes_from_the_event_that_says_it() -> None:
    cases = {
        '{"kind":"notice","code":"ev_detected","reason":"house 9000 W above 5000 W for 3 s"}':
            Kind.EV_DETECTED,
        '{"kind":"notice","code":"ev_ended","reason":"house 300 W below 5000 W for 120 s"}':
            Kind.EV_ENDED,
        '{"kind":"notice","code":"battery_held","reason":"holding zendure: house 9000 W"}':
            Kind.BATTERY_HELD,
        '{"kind":"applied","command":{"hold":false},"reason":"release: restored min_soc 15 %"}':
            Kind.BATTERY_RESTORED,
        '{"kind":"notice","code":"dispatch_hold","reason":"smart window 18:00-19:00 running"}':
            Kind.DISPATCH_HELD,
        '{"kind":"notice","code":"dispatch_release","reason":"window done"}':
            Kind.DISPATCH_RELEASED,
        '{"kind":"rejected","reason":"min_soc: Input should be less than or equal to 100"}':
            Kind.COMMAND_REJECTED,
        '{"kind":"error","code":"restore_failed","reason":"the device refused restoring"}':
            Kind.RESTORE_FAILED,
    }  # fmt: skip
    for text, kind in cases.items():
        notice = from_event("zendure", event(text))
        assert notice is not None and notice.kind is kind, text


def test_what_is_no_news_makes_no_notice() -> None:
    for text in (
        '{"kind":"applied","command":{"hold":false},"reason":"release: nothing"}',
        '{"kind":"applied","command":{"hold":true,"lease":90},"reason":"held via min_soc"}',
        '{"kind":"notice","code":"battery_released","reason":"releasing zendure"}',
        '{"kind":"notice","code":"dispatch_planned","reason":"smart window planned"}',
    ):
        assert from_event("zendure", event(text)) is None, text


def test_availability_tells_changes_not_the_first_value() -> None:
    assert from_availability("zappi", None, "offline") is None
    offline = from_availability("zappi", "online", "offline")
    assert offline is not None and offline.kind is Kind.DEVICE_OFFLINE
    back = from_availability("zappi", "offline", "online")
    assert back is not None and back.kind is Kind.DEVICE_BACK
    assert from_availability("zappi", "online", "online") is None
