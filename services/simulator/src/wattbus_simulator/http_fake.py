"""What every fake device's HTTP server shares: an aiohttp app on loopback (over TLS for a
device that speaks only https), its URL, and a close that also cuts injected delays short."""

from __future__ import annotations

import asyncio
import ssl

from aiohttp import web
from wattbus.closing import AsyncClosing

SHUTDOWN_TIMEOUT = 1.0  # s, for handlers still answering when the fake closes


class HttpFake(AsyncClosing):
    def __init__(self) -> None:
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self.port = 0
        self._scheme = "http"

    @property
    def url(self) -> str:
        return f"{self._scheme}://{self._host}:{self.port}"

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None
    ) -> None:
        app = web.Application()
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, ssl_context=tls).start()
        self._host = host
        self._scheme = "https" if tls is not None else "http"
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
