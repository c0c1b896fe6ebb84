"""The bus's publish writes to the socket in the call itself, and still delivers what the
kernel does not take at once; a service stopped together with its broker stops quietly. All
against the test suite's Mosquitto."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from support.broker import Broker, password
from support.mqtt import WAIT, bus_settings, observer, running
from wattbus.bus import BACKOFF_FIRST, PAHO_LOG, Bus, backoff_delays
from wattbus.topics import CONTROLLER_ID
from wattbus_simulator.processes import ServiceProcess, bus_env


def finishes_without_yielding(coro: Coroutine[Any, Any, object]) -> bool:
    """Run `coro` up to its first suspension: True when it completed without one."""
    try:
        coro.send(None)
    except StopIteration:
        return True
    coro.close()
    return False


async def test_a_qos0_publish_is_sent_by_the_call_itself(broker: Broker) -> None:
    """Handing the packet to a later turn of the loop costs a wake-up and two epoll changes
    on every command's path (bench/latency.py); a QoS 0 publish is done when written."""
    bus = Bus(bus_settings(broker, "controller", discovery=False), CONTROLLER_ID)
    topic = bus.topics.state(CONTROLLER_ID)
    async with observer(broker) as seen, running(bus.run()):
        await asyncio.wait_for(bus.connected.wait(), WAIT)
        mark = seen.mark()
        assert finishes_without_yielding(bus.publish(topic, b"now"))
        message = await seen.wait_for(topic, after=mark)
        assert message.payload == b"now"


async def test_what_the_socket_does_not_take_at_once_is_sent_when_it_drains(
    own_broker: Broker,
) -> None:
    """The broker is stopped while the publish starts, so the kernel takes only part of it;
    the rest must go once the broker reads again, as it did before the send moved."""
    assert own_broker.process is not None
    bus = Bus(bus_settings(own_broker, "controller", discovery=False), CONTROLLER_ID)
    topic = bus.topics.state(CONTROLLER_ID)
    big = bytes(range(256)) * (16 * 1024)  # 4 MiB: a stopped reader's socket takes far less
    async with observer(own_broker) as seen, running(bus.run()):
        await asyncio.wait_for(bus.connected.wait(), WAIT)
        mark = seen.mark()
        own_broker.process.send_signal(signal.SIGSTOP)
        try:
            publishing = asyncio.create_task(bus.publish(topic, big))
            await asyncio.sleep(0)  # one turn of the loop: the task writes what it can
            assert not publishing.done()
        finally:
            own_broker.process.send_signal(signal.SIGCONT)
        await asyncio.wait_for(publishing, WAIT)
        message = await seen.wait_for(topic, after=mark)
        assert message.payload == big


async def test_a_service_stopped_with_its_broker_logs_no_error(
    own_broker: Broker, tmp_path: Path
) -> None:
    """A host shutting down stops every container at once. Losing the broker while stopping
    is expected then, and must not leave an asyncio ERROR ("exception was never retrieved")."""
    assert own_broker.process is not None
    env = bus_env(own_broker.port, "controller", password("controller"))
    env["WATTBUS_CONTROLLER_STATE_DIR"] = str(tmp_path / "state")
    service = ServiceProcess("controller", env, tmp_path)
    async with observer(own_broker) as seen:
        service.start()
        await seen.wait_for("wattbus/controller/availability", lambda m: m.text == "online")
    assert service.process is not None
    own_broker.process.terminate()
    service.process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(service.process.wait, WAIT)
    log = service.log.read_text()
    assert code == 0, log
    assert "ERROR" not in log, log


def test_reconnect_waits_are_capped_at_a_few_seconds() -> None:
    """After a 20 s outage the old doubling without a useful cap kept services away for up to
    31 s; bench/reconnect.py measures the time back after a real outage."""
    waits = list(islice(backoff_delays(), 12))
    assert waits[0] == BACKOFF_FIRST
    assert waits == sorted(waits)
    assert max(waits) <= 2.0
    assert sum(waits[:6]) < 20  # a 20 s outage is covered by attempts, not by one long wait


def test_a_broker_gone_is_a_warning_and_other_paho_errors_stay_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """paho logs a lost socket at ERROR; for a service it is a wait, said at WARNING."""
    with caplog.at_level(logging.DEBUG, logger=PAHO_LOG.name):
        PAHO_LOG.error("failed to receive on socket: %s", "[Errno 104] Connection reset by peer")
        PAHO_LOG.error("failed to send: %s", "[Errno 32] Broken pipe")
        PAHO_LOG.error("Caught exception in on_message: %s", "boom")
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING", "ERROR"]
