"""A broker for the demo: the `mosquitto` binary when installed, otherwise amqtt in-process,
so a fresh machine runs the demo with nothing to install. Loopback only, anonymous, no
persistence: it exists for the demo's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

START_TIMEOUT = 10.0  # s for the broker to accept connections


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_open(port: int) -> None:
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


def mosquitto_binary() -> str | None:
    """Debian installs it in /usr/sbin, which a user's PATH often lacks."""
    found = shutil.which("mosquitto")
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if found is None and Path(candidate).exists():
            found = candidate
    return found


@contextlib.asynccontextmanager
async def local_broker(*, embedded: bool = False) -> AsyncIterator[tuple[int, str]]:
    """Yields (port, kind); `embedded` skips mosquitto even where it is installed."""
    port = free_port()
    binary = None if embedded else mosquitto_binary()
    if binary:
        with tempfile.TemporaryDirectory() as tmp:
            conf = Path(tmp) / "mosquitto.conf"
            conf.write_text(
                f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "set_tcp_nodelay true\n"
            )
            # in a session of its own: Ctrl-C in the terminal reaches the whole foreground
            # group, and the broker must outlive the clients' goodbyes, then stop last
            proc = await asyncio.create_subprocess_exec(
                binary, "-c", str(conf), stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            try:
                await _wait_open(port)
                yield port, "mosquitto"
            finally:
                with contextlib.suppress(ProcessLookupError):  # it may have died on its own
                    proc.terminate()
                await proc.wait()
        return
    from amqtt.broker import Broker  # type: ignore[import-untyped]

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    try:
        yield port, "amqtt (embedded)"
    finally:
        await broker.shutdown()
