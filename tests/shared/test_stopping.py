"""`stop` ends a task even when the task drops a cancel, as Python 3.11's asyncio.wait_for
does when its future completes in the same turn (under aiomqtt's every operation)."""

from __future__ import annotations

import asyncio

import pytest
from support.mqtt import WAIT
from wattbus.stopping import stop


async def forever() -> None:
    await asyncio.Event().wait()


async def test_a_task_that_drops_a_cancel_is_stopped_all_the_same() -> None:
    started, dropped = asyncio.Event(), asyncio.Event()

    async def drops_the_first_cancel() -> None:
        started.set()
        try:
            await forever()
        except asyncio.CancelledError:
            dropped.set()  # and runs on, as if it had never been asked
        await forever()

    task = asyncio.create_task(drops_the_first_cancel())
    await started.wait()
    stopping = asyncio.create_task(stop(task))
    done, _ = await asyncio.wait({stopping}, timeout=WAIT)
    assert stopping in done, "the task ran on after its cancel"
    assert dropped.is_set() and task.cancelled()


async def test_the_exception_a_task_ended_with_is_raised() -> None:
    async def fails() -> None:
        raise ValueError("broken")

    task = asyncio.create_task(fails())
    await asyncio.wait({task})
    with pytest.raises(ValueError, match="broken"):
        await stop(task)
