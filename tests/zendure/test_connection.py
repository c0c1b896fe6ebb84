"""The bridge's one kept-alive HTTP connection, against a scripted HTTP server on loopback: reuse,
a device that closes the connection (idle, by `Connection: close`, mid-answer), and an answer that
comes after its request timed out."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import h11
import pytest
from wattbus_zendure.connection import Connection

Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]
ACCEPT = [(b"accept", b"application/json")]


class Server:
    """Answers each request with `reply(reader, writer, n)` (n counts requests from 1); the
    connection stays open while `reply` returns True. Counts connections."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await read_request(reader):
                self.requests += 1
                if not await self.reply(reader, writer, self.requests):
                    break
        finally:
            writer.close()

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()


async def read_request(reader: asyncio.StreamReader) -> bool:
    """One request (headers and a Content-Length body); False when the client went away."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            await reader.readexactly(int(value))
    return True


def answer(body: bytes, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%b\r\n%b" % (len(body), headers, body)


async def ok(_r: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
    writer.write(answer(b'{"n":%d}' % n))
    await writer.drain()
    return True


@contextlib.asynccontextmanager
async def connected(reply: Reply) -> AsyncIterator[tuple[Server, Connection]]:
    async with Server(reply) as server:
        connection = Connection("127.0.0.1", server.port)
        try:
            yield server, connection
        finally:
            await connection.close()


async def test_requests_share_one_connection() -> None:
    async with connected(ok) as (server, http):
        assert await http.request(b"GET", b"/properties/report", ACCEPT) == (200, b'{"n":1}')
        assert await http.request(b"POST", b"/properties/write", ACCEPT, b"{}") == (
            200,
            b'{"n":2}',
        )
    assert server.connections == 1


async def test_device_closing_an_idle_connection_is_noticed_before_the_next_request() -> None:
    async def once(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        await ok(r, w, n)
        return False  # then close, as a device does with idle connections

    async with connected(once) as (server, http):
        await http.request(b"GET", b"/", ACCEPT)
        # the close has reached the idle connection (white box: nothing public waits for it)
        assert http._reader is not None
        assert await http._reader.read() == b""
        assert await http.request(b"GET", b"/", ACCEPT) == (200, b'{"n":2}')
    assert server.connections == 2


async def test_connection_close_answer_is_not_reused() -> None:
    async def closing(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        w.write(answer(b"%d" % n, b"Connection: close"))
        await w.drain()
        return False

    async with connected(closing) as (server, http):
        assert await http.request(b"GET", b"/", ACCEPT) == (200, b"1")
        assert await http.request(b"GET", b"/", ACCEPT) == (200, b"2")
    assert server.connections == 2


async def test_answer_cut_short_is_an_error_and_the_next_request_works() -> None:
    async def cut(_r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        if n == 1:
            w.write(answer(b'{"soc":50}')[:-4])  # Content-Length promises more
            await w.drain()
            return False
        return await ok(_r, w, n)

    async with connected(cut) as (server, http):
        with pytest.raises((ConnectionError, h11.RemoteProtocolError)):
            await http.request(b"GET", b"/", ACCEPT)
        assert await http.request(b"GET", b"/", ACCEPT) == (200, b'{"n":2}')
    assert server.connections == 2


async def test_late_answer_to_a_timed_out_request_never_answers_the_next_one() -> None:
    release = asyncio.Event()

    async def slow_first(r: asyncio.StreamReader, w: asyncio.StreamWriter, n: int) -> bool:
        if n == 1:
            await release.wait()  # answers only after the client gave up
        return await ok(r, w, n)

    async with connected(slow_first) as (server, http):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await http.request(b"GET", b"/", ACCEPT)
        release.set()
        assert await http.request(b"GET", b"/", ACCEPT) == (200, b'{"n":2}')
    assert server.connections == 2


async def test_garbage_instead_of_http_is_a_protocol_error() -> None:
    async def garbage(_r: asyncio.StreamReader, w: asyncio.StreamWriter, _n: int) -> bool:
        w.write(b"\x00\x01 not http at all\r\n\r\n")
        await w.drain()
        return True

    async with connected(garbage) as (_server, http):
        with pytest.raises(h11.RemoteProtocolError):
            await http.request(b"GET", b"/", ACCEPT)


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
async def test_ipv6_host_is_bracketed_in_the_host_header() -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer(b"{}"))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "::1", 0)
    port = server.sockets[0].getsockname()[1]
    http = Connection("[::1]", port)
    try:
        assert await http.request(b"GET", b"/", ACCEPT) == (200, b"{}")
    finally:
        await http.close()
        server.close()
    assert b"host: [::1]:%d\r\n" % port in seen[0].lower()
