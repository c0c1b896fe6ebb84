"""Loopback receivers for what apprise sends: an SMTP server with STARTTLS (a throwaway
self-signed certificate) and an HTTP server taking apprise's `json://` posts."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP

from support.mqtt import WAIT
from support.smtp import Server


def self_signed(workdir: Path) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 made now, valid for a day."""
    key, cert = workdir / "smtp.key", workdir / "smtp.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@contextlib.asynccontextmanager
async def starttls_server(workdir: Path) -> AsyncIterator[Server]:
    """SMTP that refuses mail until the client has said STARTTLS."""
    context = self_signed(workdir)
    server = Server(port=0)
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(server, hostname="mail.test", tls_context=context, require_starttls=True)

    listening = await loop.create_server(protocol, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()
        await listening.wait_closed()


@dataclass
class Hook:
    port: int = 0
    posts: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self.changed:
            self.posts.append(body)
            self.changed.notify_all()
        return web.Response(text="ok")

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        """Once `count` posts have come: all of them."""
        async with asyncio.timeout(WAIT), self.changed:
            await self.changed.wait_for(lambda: len(self.posts) >= count)
        return self.posts


@contextlib.asynccontextmanager
async def webhook() -> AsyncIterator[Hook]:
    hook = Hook()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    hook.port = server.sockets[0].getsockname()[1]
    try:
        yield hook
    finally:
        await runner.cleanup()
