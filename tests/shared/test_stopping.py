"""`stop` ends a task even when the task drops a cancel, as Python 3.11's asyncio.wait_for
does when its future completes in the same turn (under aiomqtt's every operation)."""

from __future__ import annotations

import asyncio

import pytest
from support.mqtt import WAIT
from wattbus.stopping import run_together, stop


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


async def test_tasks_run_together_are_stopped_even_one_that_drops_a_cancel() -> None:
    """A TaskGroup cancels each child once and then waits for ever on one that dropped it:
    the demo ignored Ctrl-C that way (a bus's cancel lost under aiomqtt's subscribe)."""
    started, dropped, ended = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def drops_the_first_cancel() -> None:
        started.set()
        try:
            await forever()
        except asyncio.CancelledError:
            dropped.set()
        try:
            await forever()
        finally:
            ended.set()

    together = asyncio.create_task(run_together(drops_the_first_cancel(), forever()))
    await started.wait()
    together.cancel()  # once, as asyncio.run does at Ctrl-C
    done, _ = await asyncio.wait({together}, timeout=WAIT)
    assert together in done, "a task ran on after its cancel"
    assert dropped.is_set() and ended.is_set() and together.cancelled()


async def test_the_first_failure_ends_the_others_and_is_raised_as_it_is() -> None:
    async def fails() -> None:
        raise ValueError("broken")

    stopped = asyncio.Event()

    async def other() -> None:
        try:
            await forever()
        finally:
            stopped.set()

    with pytest.raises(ValueError, match="broken"):
        await run_together(other(), fails())
    assert stopped.is_set()
