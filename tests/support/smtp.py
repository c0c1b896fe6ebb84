"""A real SMTP server (aiosmtpd) on loopback, on a free port, in the test's own event loop: it
records every mail it accepts, and a test waits for the one it expects."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from icalendar import Calendar, Event

from support.mqtt import WAIT

USER, PASSWORD = "wattbus", "letmein"  # the one login the server takes, when it asks for one


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def calendar(self) -> Calendar:
        (part,) = [p for p in self.message.walk() if p.get_content_type() == "text/calendar"]
        return Calendar.from_ical(part.get_content())

    @property
    def event(self) -> Event:
        (event,) = self.calendar.events
        return event


@dataclass
class Server:
    port: int
    mails: list[Mail] = field(default_factory=list)
    greetings: int = 0  # EHLOs: one per connection a client makes
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        recipients = [str(r) for r in envelope.rcpt_tos]
        async with self.changed:
            self.mails.append(Mail(str(envelope.mail_from), recipients, message))
            self.changed.notify_all()
        return "250 OK"

    async def handle_EHLO(
        self,
        _server: SMTP,
        session: Session,
        _envelope: Envelope,
        name: str,
        responses: list[str],
    ) -> list[str]:
        """A handler that counts EHLOs must also name the session, as aiosmtpd's own does."""
        self.greetings += 1
        session.host_name = name
        return responses

    def authenticate(
        self, _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        given = (data.login, data.password) if isinstance(data, LoginPassword) else None
        return AuthResult(success=given == (USER.encode(), PASSWORD.encode()), handled=False)

    async def wait_for(
        self, pred: Callable[[Mail], bool] = lambda m: True, *, after: int = 0
    ) -> Mail:
        def find() -> Mail | None:
            return next((m for m in self.mails[after:] if pred(m)), None)

        async with asyncio.timeout(WAIT), self.changed:
            await self.changed.wait_for(lambda: find() is not None)
        found = find()
        assert found is not None
        return found


@contextlib.asynccontextmanager
async def smtp_server(*, login: bool = False) -> AsyncIterator[Server]:
    """Plain SMTP (no TLS); with `login`, only a client that logs in as USER may send."""
    loop = asyncio.get_running_loop()
    server = Server(port=0)

    def protocol() -> SMTP:
        with warnings.catch_warnings():  # plain AUTH is what loopback tests want
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return SMTP(server, hostname="mail.test", auth_required=login,
                        auth_require_tls=False,
                        authenticator=server.authenticate if login else None)  # fmt: skip

    listening = await loop.create_server(protocol, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()
        await listening.wait_closed()


async def a_closed_port() -> int:
    """A loopback port that was free a moment ago and has no server now: a mail server down."""
    async with smtp_server() as server:
        port = server.port
    return port
