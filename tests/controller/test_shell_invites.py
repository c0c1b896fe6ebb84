"""Dispatch invites through real parts: the controller's shell on a real broker, the tariff and
the charger as clients that publish as their bridges do, and a real SMTP server on loopback
whose mails are parsed as a calendar would read them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
from support.broker import Broker
from support.mqtt import Msg
from support.smtp import PASSWORD, USER, a_closed_port, smtp_server
from wattbus.models import ChargerState, DispatchKind, DispatchWindow, TariffState
from wattbus_controller import memory as store

from .conftest import BATTERY_SET, EVENTS, T0, Rig, client, controller_rig
from .test_shell_dispatch import CHARGER_STATE, TARIFF_STATE, WINDOW, holds

OWNERS = ["owner@home.test", "partner@home.test"]
MAIL: dict[str, Any] = {"tariff": "kraken", "charger": "zappi", "smtp_host": "127.0.0.1",
        "smtp_security": "none", "invite_from": "wattbus@home.test", "invite_to": ",".join(OWNERS),
        "cheap_rate": 0.07, "standard_rate": 0.245}  # fmt: skip
UID = "kraken-20261125T180000Z@wattbus"


@dataclass
class Home:
    rig: Rig
    tariff: aiomqtt.Client
    charger: aiomqtt.Client

    async def windows(self, *windows: DispatchWindow) -> None:
        now = self.rig.clock()
        state = TariffState(ts=now, windows=list(windows), active=bool(windows),
                            source="flex", fetched=now)  # fmt: skip
        await self.tariff.publish(TARIFF_STATE, state.model_dump_json(), qos=1, retain=True)

    async def car(self, charging: bool) -> None:
        """The charger's state, fresh at the clock's time, and an evaluation that has it."""
        state = ChargerState(ts=self.rig.clock(), charging=charging,
                             power=7400.0 if charging else 0.0)  # fmt: skip
        await self.charger.publish(CHARGER_STATE, state.model_dump_json(), qos=1, retain=True)
        await self.rig.house(600, hold=charging)

    async def at(self, t: datetime, *, charging: bool) -> None:
        self.rig.clock.now = t
        await self.car(charging)


@asynccontextmanager
async def home(broker: Broker, state_dir: Path, **settings: Any) -> AsyncIterator[Home]:
    async with (
        controller_rig(broker, state_dir, **MAIL | settings) as rig,
        client(broker, "kraken") as tariff,
        client(broker, "zappi") as charger,
    ):
        yield Home(rig, tariff, charger)


def notice(code: str) -> Callable[[Msg], bool]:
    return lambda m: m.json.get("code") == code


def at(h: int, m: int = 0, s: int = 0) -> datetime:
    return T0.replace(hour=h, minute=m, second=s)


async def test_an_invite_when_the_car_charges_updated_when_the_window_moves_trimmed_at_the_end(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with smtp_server() as mail, home(own_broker, tmp_path, smtp_port=mail.port) as h:
        await h.windows(WINDOW)
        await h.car(True)
        sent = await mail.wait_for()
        assert sorted(sent.recipients) == OWNERS and sent.sender == "wattbus@home.test"
        assert sent.calendar["method"] == "REQUEST"
        event = sent.event
        assert (event["uid"], event["sequence"]) == (UID, 0)
        assert (event.decoded("dtstart"), event.decoded("dtend")) == (at(18), at(19))
        text = event.description or ""
        assert "7.4 kWh" in text and "Saving: £1.29" in text

        h.rig.clock.now = at(18, 5)  # the supplier gives the window half an hour more
        await h.windows(WINDOW.model_copy(update={"end": at(19, 30)}))
        await h.car(True)
        moved = (await mail.wait_for(after=1)).event
        assert (moved["uid"], moved["sequence"]) == (UID, 1)
        assert moved.decoded("dtend") == at(19, 30)

        await h.at(at(18, 10), charging=False)  # full: the hold runs to the slot's end
        mark = h.rig.obs.mark()
        await h.at(at(18, 29, 5), charging=False)
        await h.rig.obs.wait_for(BATTERY_SET, holds(False), after=mark)
        trimmed = await mail.wait_for(after=2)
        assert trimmed.message["Subject"].startswith("Ended: ")
        assert (trimmed.event["uid"], trimmed.event["sequence"]) == (UID, 2)
        assert trimmed.event.decoded("dtend") == at(18, 30)


async def test_a_window_withdrawn_before_it_ran_its_course_is_cancelled(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with smtp_server() as mail, home(own_broker, tmp_path, smtp_port=mail.port) as h:
        await h.windows(WINDOW)
        await h.car(True)
        await mail.wait_for()
        h.rig.clock.now = at(18, 10)
        await h.windows()  # withdrawn: the supplier lists nothing now
        mark = h.rig.obs.mark()
        await h.at(at(18, 29, 5), charging=True)  # the car charges on: the EV guard holds
        await h.rig.obs.wait_for(EVENTS, notice("dispatch_release"), after=mark)
        cancel = await mail.wait_for(after=1)
        assert cancel.calendar["method"] == "CANCEL"
        assert (cancel.event["uid"], cancel.event["sequence"]) == (UID, 1)
        assert cancel.event["status"] == "CANCELLED"


async def test_a_mail_server_down_is_an_error_event_and_the_battery_is_held_and_released(
    own_broker: Broker, tmp_path: Path
) -> None:
    port = await a_closed_port()
    async with home(own_broker, tmp_path, smtp_port=port, invite_retries=(0.0, 0.0)) as h:
        mark = h.rig.obs.mark()
        await h.windows(WINDOW)
        await h.car(True)
        failed = await h.rig.obs.wait_for(EVENTS, notice("invite_failed"), after=mark)
        assert failed.json["kind"] == "error"
        assert "SMTPConnectError" in failed.json["reason"] and f"{port}" in failed.json["reason"]
        assert failed.json["data"]["uid"] == UID and failed.json["data"]["action"] == "send"
        await h.rig.obs.wait_for(BATTERY_SET, holds(True), after=mark)
        await h.at(at(18, 10), charging=False)
        mark = h.rig.obs.mark()
        await h.at(at(18, 29, 5), charging=False)
        await h.rig.obs.wait_for(BATTERY_SET, holds(False), after=mark)
        await h.rig.obs.wait_for(EVENTS, notice("dispatch_release"), after=mark)


async def test_the_sender_logs_in_and_a_refused_login_is_not_tried_again(
    own_broker: Broker, tmp_path: Path
) -> None:
    login = {"smtp_username": USER, "smtp_password": PASSWORD}
    async with (
        smtp_server(login=True) as mail,
        home(own_broker, tmp_path, smtp_port=mail.port, **login) as h,
    ):
        await h.windows(WINDOW)
        await h.car(True)
        assert (await mail.wait_for()).event["sequence"] == 0
    wrong = login | {"smtp_password": "guess"}
    async with (
        smtp_server(login=True) as mail,
        home(own_broker, tmp_path / "2", smtp_port=mail.port, invite_retries=(0.0,), **wrong) as h,
    ):
        mark = h.rig.obs.mark()
        await h.windows(WINDOW)
        await h.car(True)
        failed = await h.rig.obs.wait_for(EVENTS, notice("invite_failed"), after=mark)
        assert "SMTPAuthenticationError" in failed.json["reason"]
        assert mail.greetings == 1  # one try: a refused login would only be refused again
        assert mail.mails == []


async def test_a_restart_neither_resends_nor_forgets_the_invite(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with smtp_server() as mail:
        async with home(own_broker, tmp_path, smtp_port=mail.port) as h:
            await h.windows(WINDOW)
            await h.car(True)
            await mail.wait_for()
        async with home(own_broker, tmp_path, smtp_port=mail.port) as h:
            await h.at(at(18, 10), charging=True)
            await h.windows(WINDOW)
            await h.at(at(18, 11), charging=False)
            mark = h.rig.obs.mark()
            await h.at(at(18, 29, 5), charging=False)
            await h.rig.obs.wait_for(BATTERY_SET, holds(False), after=mark)
            after_restart = await mail.wait_for(after=1)
        # the first mail after the restart is the trim, not the same invite sent again
        assert (after_restart.event["uid"], after_restart.event["sequence"]) == (UID, 1)
        assert after_restart.event.decoded("dtend") == at(18, 30)


async def test_without_an_smtp_host_nothing_is_sent(own_broker: Broker, tmp_path: Path) -> None:
    async with smtp_server() as mail, home(own_broker, tmp_path, smtp_host=None) as h:
        assert h.rig.controller.invites is None
        mark = h.rig.obs.mark()
        await h.windows(WINDOW)
        await h.car(True)
        await h.rig.obs.wait_for(EVENTS, notice("dispatch_hold"), after=mark)
        await h.at(at(18, 10), charging=False)
        mark = h.rig.obs.mark()
        await h.at(at(18, 29, 5), charging=False)
        await h.rig.obs.wait_for(BATTERY_SET, holds(False), after=mark)
        assert store.load(tmp_path / store.FILE_NAME).invites == {}
        assert mail.mails == []


async def test_no_invite_for_a_boost(own_broker: Broker, tmp_path: Path) -> None:
    boost = WINDOW.model_copy(update={"kind": DispatchKind.BOOST})
    async with smtp_server() as mail, home(own_broker, tmp_path, smtp_port=mail.port) as h:
        mark = h.rig.obs.mark()
        await h.windows(boost)
        await h.car(True)  # the EV guard holds for the car; dispatch does not
        await h.rig.obs.wait_for(BATTERY_SET, holds(True), after=mark)
        h.rig.clock.now = at(18, 10)
        await h.windows(boost, WINDOW.model_copy(update={"start": at(18), "end": at(18, 30)}))
        await h.car(True)  # a smart window now: its invite is the first mail
        assert (await mail.wait_for()).event.decoded("dtend") == at(18, 30)
        assert len(mail.mails) == 1
