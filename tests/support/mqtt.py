"""An observer on the real broker: records every message and waits for the one a test expects."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiomqtt
from wattbus.settings import BusSettings
from wattbus.stopping import stop

from support.broker import Broker, password

WAIT = 10.0  # s: a generous upper bound; tests finish as soon as the message arrives


@dataclass(frozen=True)
class Msg:
    topic: str
    payload: bytes
    retain: bool

    @property
    def json(self) -> Any:
        return json.loads(self.payload)

    @property
    def text(self) -> str:
        return self.payload.decode()


def bus_settings(broker: Broker, user: str, **extra: Any) -> BusSettings:
    """A service's bus settings on the test's broker. A bridge here calls its device offline
    at the first failed read, so a test of what an outage does needs one failure, not three;
    the tests of the threshold itself pass `offline_after`."""
    settings: dict[str, Any] = {"offline_after": 1} | extra
    return BusSettings.only(
        mqtt_host="127.0.0.1",
        mqtt_port=broker.port,
        mqtt_username=user,
        mqtt_password=password(user),
        **settings,
    )


class Observer:
    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.messages: list[Msg] = []
        self._changed = asyncio.Condition()

    async def _pump(self) -> None:
        async for m in self.client.messages:
            payload = m.payload if isinstance(m.payload, bytes) else b""
            async with self._changed:
                self.messages.append(Msg(str(m.topic), payload, m.retain))
                self._changed.notify_all()

    async def wait_for(
        self,
        topic: str,
        pred: Callable[[Msg], bool] = lambda m: True,
        *,
        after: int = 0,
        within: float = WAIT,
    ) -> Msg:
        """The first message on `topic` (index >= after) that satisfies `pred`."""

        def find() -> Msg | None:
            for m in self.messages[after:]:
                if aiomqtt.Topic(m.topic).matches(topic) and pred(m):
                    return m
            return None

        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: find() is not None)
        found = find()
        assert found is not None
        return found

    def mark(self) -> int:
        return len(self.messages)

    async def publish(self, topic: str, payload: str | bytes | dict[str, Any]) -> None:
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        await self.client.publish(topic, data, qos=1)


@contextlib.asynccontextmanager
async def running(coro: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    """`coro` as a task while the block runs; stopped after it."""
    task = asyncio.create_task(coro)
    try:
        yield task
    finally:
        await stop(task)


@contextlib.asynccontextmanager
async def observing(client: aiomqtt.Client, topic: str = "#") -> AsyncIterator[Observer]:
    """Record everything `client` receives on `topic` while the block runs."""
    await client.subscribe(topic, qos=1)
    obs = Observer(client)
    async with running(obs._pump()):
        yield obs


@contextlib.asynccontextmanager
async def observer(broker: Broker, user: str = "homeassistant") -> AsyncIterator[Observer]:
    async with (
        aiomqtt.Client("127.0.0.1", broker.port, username=user, password=password(user)) as client,
        observing(client) as obs,
    ):
        yield obs
