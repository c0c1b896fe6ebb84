"""One kept-alive HTTP/1.1 connection to a SolarFlow, framed by h11.

The zenSDK API is plain HTTP/1.1 on the LAN: no TLS, no authentication, no redirects, one
request at a time. h11 (the protocol engine under httpx) does all of HTTP; what is left here is
the connection's life: open it on first use, reuse it while the device keeps it open, drop it
after anything unexpected. A full client costs more where it matters: a hold's write is on the
path from a meter reading to the battery, and httpx, or httpcore with the anyio backend it
needs, added 0.25-0.5 ms per request and 2-3 MiB per bridge process (bench/latency.py,
bench/memory.py).

Errors are left as they come (OSError, h11.ProtocolError, TimeoutError from the caller's
timeout); `SolarFlow._request` turns them into this package's errors.
"""

from __future__ import annotations

import asyncio
import contextlib

import h11
from wattbus.closing import AsyncClosing

READ_CHUNK = 64 * 1024  # bytes per read; a full report is about 2 KB

Headers = list[tuple[bytes, bytes]]


class Connection(AsyncClosing):
    def __init__(self, host: str, port: int) -> None:
        self.host = host.strip("[]")  # an IPv6 address, with or without its brackets
        self.port = port
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        self._host_header = f"{netloc}:{port}".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._h11 = h11.Connection(h11.CLIENT)

    async def request(
        self, method: bytes, path: bytes, headers: Headers, body: bytes | None = None
    ) -> tuple[int, bytes]:
        """Send one request and read the whole answer: (status, body). A connection that
        fails or is cancelled mid-request is closed, never reused."""
        reader, writer = await self._open()
        conn = self._h11
        try:
            all_headers = [(b"host", self._host_header), *headers]
            if body is not None:
                all_headers.append((b"content-length", str(len(body)).encode()))
            data = conn.send(h11.Request(method=method, target=path, headers=all_headers)) or b""
            if body:
                data += conn.send(h11.Data(data=body)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
            writer.write(data)
            await writer.drain()
            answer = await self._read_response(reader)
        except BaseException:
            self._drop()
            raise
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:  # the device said `Connection: close`, or framed its answer by closing
            self._drop()
        return answer

    async def close(self) -> None:
        writer = self._writer
        self._drop()
        if writer is not None:
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is not None and self._reader.at_eof():
            self._drop()  # the device closed it while it sat idle
        if self._reader is None or self._writer is None:
            # asyncio sets TCP_NODELAY on TCP streams: a request leaves in one segment, at once
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            self._h11 = h11.Connection(h11.CLIENT)
        return self._reader, self._writer

    async def _read_response(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        conn = self._h11
        status = 0
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(READ_CHUNK))  # b"" tells h11 it closed
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return status, b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the device closed the connection mid-answer")
            # h11.InformationalResponse (1xx): the real answer follows

    def _drop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None
