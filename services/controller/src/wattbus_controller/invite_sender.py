"""Sends the invites over SMTP from a queue of their own, so a slow or absent mail server never
delays a battery decision. One at a time and in order, since a calendar applies an update only
over the SEQUENCE before it. A failed send is tried again after a back-off; one that still
fails, or that the server refuses for good (a login, an address), is one log line and an
`invite_failed` error event, and the next invite is sent as if nothing happened."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from email.message import EmailMessage

import aiosmtplib

from wattbus_controller import invite_mail
from wattbus_controller.invites import Action
from wattbus_controller.settings import SMTP_PORTS, ControllerSettings

log = logging.getLogger(__name__)

RETRY_DELAYS = (10.0, 60.0, 300.0)  # s before each new try: a restart, then an outage
TIMEOUT = 30.0  # s for each step of a send (connect, login, data)

Report = Callable[[Action, str], Awaitable[None]]


class InviteSender:
    def __init__(
        self,
        settings: ControllerSettings,
        report: Report,
        clock: Callable[[], datetime],
        delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.settings = settings
        self.head = invite_mail.Letterhead.of(settings)
        self.report = report
        self.clock = clock
        self.delays = delays
        self.queue: asyncio.Queue[Action] = asyncio.Queue()

    def submit(self, action: Action) -> None:
        self.queue.put_nowait(action)

    async def run(self) -> None:
        while True:
            action = await self.queue.get()
            await self._deliver(action)

    async def _deliver(self, action: Action) -> None:
        mail = invite_mail.message(action, self.head, self.clock())
        what = f"{action.kind} {action.invite.uid} (sequence {action.invite.sequence})"
        reason = ""
        for attempt, delay in enumerate((*self.delays, None), start=1):
            try:
                await self._send(mail)
            except (aiosmtplib.SMTPException, OSError) as err:
                reason = f"{self.settings.smtp_host}: {type(err).__name__}: {err}"
                if delay is None or not _passing(err):
                    break
                log.debug("invite %s: try %d failed (%s)", what, attempt, reason)
                await asyncio.sleep(delay)
            else:
                log.info("invite %s sent to %s", what, ", ".join(self.head.recipients))
                return
        log.error("invite %s not sent: %s", what, reason)
        await self.report(action, reason)

    async def _send(self, mail: EmailMessage) -> None:
        s = self.settings
        password = None if s.smtp_password is None else s.smtp_password.get_secret_value()
        await aiosmtplib.send(
            mail,
            hostname=s.smtp_host,
            port=s.smtp_port or SMTP_PORTS[s.smtp_security],
            username=s.smtp_username,
            password=password,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            timeout=TIMEOUT,
        )


def _passing(err: Exception) -> bool:
    """Worth another try: no connection or a temporary (4xx) answer; never a refused login
    or a permanent (5xx) answer, which a retry would only repeat."""
    if isinstance(err, aiosmtplib.SMTPAuthenticationError):
        return False
    if isinstance(err, aiosmtplib.SMTPResponseException):
        return not 500 <= err.code < 600
    return True
