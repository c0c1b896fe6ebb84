"""Every request to a fake myenergi on loopback, for the tests and the demo.

pymyenergi's director address is fixed (`https://director.myenergi.net`), and the server it
then uses is whatever the director's `X_MYENERGI-asn` header names. This transport sends each
request, whatever its host, to `http://127.0.0.1:<port>` with the same path and query, so the
digest auth (computed over the path) still holds. The `Host` header is left as the library set
it, so the fake sees which server the client meant to ask. In real use there is no transport.
"""

from __future__ import annotations

import httpx

LOOPBACK = "127.0.0.1"


class LoopbackTransport(httpx.AsyncBaseTransport):
    def __init__(self, port: int) -> None:
        self.port = port
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(scheme="http", host=LOOPBACK, port=self.port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
