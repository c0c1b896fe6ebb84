"""The notification service on a real broker, sending with apprise to real receivers on
loopback: an SMTP server that asks for STARTTLS, and an HTTP server for `json://`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from support.broker import Broker, password
from support.clock import FakeClock
from support.mqtt import Msg, Observer, bus_settings, observer, running
from support.receivers import starttls_server, webhook
from support.smtp import a_closed_port
from wattbus.bus import Bus
from wattbus.stopping import run_together
from wattbus_notify.service import Notifier
from wattbus_notify.settings import NotifySettings

T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)
HOME = "Elm Cottage"
STATE = "wattbus/notify/state"
EV_DETECTED = (
    '{"ts":"2026-12-01T18:00:00Z","kind":"notice","reason":"house 9000 W above 5000 W for 3 s",'
    '"code":"ev_detected","data":{"house_power":9000.0,"threshold":5000.0,"signal":"threshold"}}'
)


def mailto(port: int) -> str:
    """STARTTLS to the test's server, whose certificate nobody could verify: `verify=no`."""
    return (
        f"mailto://127.0.0.1:{port}?mode=starttls&verify=no&from=wattbus@home.test"
        "&to=anna@home.test,ben@home.test"
    )


@contextlib.asynccontextmanager
async def as_user(broker: Broker, user: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, username=user, password=password(user)
    ) as client:
        yield client


@contextlib.asynccontextmanager
async def notifier(
    broker: Broker, urls: str, clock: FakeClock, **extra: Any
) -> AsyncIterator[Observer]:
    """The service running; the block starts once it listens: its first state is out, sent
    live (not the retained one an earlier test's service left on the broker)."""
    settings = NotifySettings.only(urls=urls, home=HOME, **extra)
    bus = Bus(bus_settings(broker, "notify"), "notify")
    service = Notifier(bus, settings, clock)
    async with observer(broker) as obs, running(run_together(bus.run(), service.run())):
        await obs.wait_for(STATE, live)
        yield obs


def live(m: Msg) -> bool:
    return not m.retain


def counted(total: int) -> Any:
    def pred(m: Msg) -> bool:
        return live(m) and bool(m.json["sent"] + m.json["held_back"] == total)

    return pred


async def test_an_ev_session_reaches_every_recipient_and_the_webhook(
    broker: Broker, tmp_path: Path
) -> None:
    clock = FakeClock(T0)
    async with (
        starttls_server(tmp_path) as smtp,
        webhook() as hook,
        notifier(broker, f"{mailto(smtp.port)} {hook.url}", clock),
        as_user(broker, "controller") as controller,
    ):
        await controller.publish("wattbus/controller/event", EV_DETECTED, qos=1)
        (post,) = await hook.wait_for(1)
        line = f"{HOME}: EV charging detected on controller: house 9000 W above 5000 W for 3 s"
        assert post["message"] == line
        assert post["title"] == f"{HOME}: EV charging detected"
        anna = await smtp.wait_for(lambda m: m.recipients == ["anna@home.test"])
        ben = await smtp.wait_for(lambda m: m.recipients == ["ben@home.test"])
        for mail in (anna, ben):
            assert mail.message["Subject"] == f"{HOME}: EV charging detected"
            text = mail.message.get_body(("plain",))
            assert text is not None and line in text.get_content()


async def test_a_flapping_meter_is_one_message_per_kind_then_a_digest(broker: Broker) -> None:
    clock = FakeClock(T0)
    flaps = 60  # offline and online again, every 5 s for 5 minutes
    async with (
        webhook() as hook,
        as_user(broker, "grid-meter") as meter,
    ):
        topic = "wattbus/grid-meter/availability"
        await meter.publish(topic, "online", qos=1, retain=True)  # what it said before
        async with notifier(broker, hook.url, clock) as obs:
            for i in range(flaps):
                await meter.publish(topic, "offline" if i % 2 == 0 else "online", qos=1)
                await obs.wait_for(STATE, counted(i + 1))
                clock.advance(5)
            state = (await obs.wait_for(STATE, counted(flaps))).json
            assert (state["sent"], state["held_back"]) == (2, flaps - 2)
            assert [p["title"] for p in hook.posts] == [
                f"{HOME}: device offline", f"{HOME}: device back"
            ]  # fmt: skip
            clock.advance(15 * 60 - 5 * flaps)  # the kinds' 15 minutes have run out
            posts = await hook.wait_for(3)
            digest = posts[2]["message"]
            assert digest.startswith(f"{HOME}: held back since 18:00 UTC:")
            assert "device offline x29, device back x29" in digest
            state = (await obs.wait_for(STATE, lambda m: live(m) and m.json["sent"] == 3)).json
            assert state["held_back"] == flaps - 2


async def test_a_bad_event_is_ignored_with_a_log_line(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(T0)
    async with (
        webhook() as hook,
        notifier(broker, hook.url, clock),
        as_user(broker, "controller") as controller,
    ):
        with caplog.at_level(logging.WARNING, "wattbus_notify"):
            await controller.publish("wattbus/controller/event", "{not json", qos=1)
            await controller.publish("wattbus/controller/event", '{"kind":"shout"}', qos=1)
            await controller.publish("wattbus/controller/event", EV_DETECTED, qos=1)
            (post,) = await hook.wait_for(1)
        assert "EV charging detected" in post["title"]
        ignored = [r.getMessage() for r in caplog.records if "not an event" in r.getMessage()]
        assert len(ignored) == 2


async def test_a_target_that_does_not_take_it_is_an_error_event(broker: Broker) -> None:
    clock = FakeClock(T0)
    down = f"json://127.0.0.1:{await a_closed_port()}/hook"
    async with (
        webhook() as hook,
        notifier(broker, f"{down} {hook.url}", clock) as obs,
        as_user(broker, "controller") as controller,
    ):
        await controller.publish("wattbus/controller/event", EV_DETECTED, qos=1)
        await hook.wait_for(1)  # the other target still gets it
        event = (await obs.wait_for("wattbus/notify/event")).json
        assert event["kind"] == "error" and event["code"] == "send_failed"
        assert event["data"]["target"].startswith(down)
        state = (await obs.wait_for(STATE, lambda m: live(m) and m.json["failed"] == 1)).json
        assert state["sent"] == 1
