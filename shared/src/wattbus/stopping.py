"""Stopping a task for certain on Python 3.11.

3.11's `asyncio.wait_for`, which aiomqtt awaits in every publish, subscribe, connect and
disconnect, returns its result and drops a cancel that lands just as its future completes.
The task then runs on as if never asked to stop, and whoever awaits it waits for ever: a
service that ignores `docker stop`, a test that hangs in its teardown, a demo that ignores
Ctrl-C (all seen in CI). Python 3.12 fixed it; until then every stop goes through `stop`, and
tasks that live together run through `run_together` rather than a TaskGroup, which cancels
each child once and then waits for ever on one that dropped it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

CANCEL_AGAIN = 1.0  # s a cancelled task has to end before it is cancelled once more


async def stop(task: asyncio.Future[Any]) -> None:
    """Cancel `task` until it has ended; an exception it ended with is raised here."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN)
    if not task.cancelled():
        task.result()


async def run_together(*coros: Coroutine[Any, Any, None]) -> None:
    """Run `coros` as tasks, as a TaskGroup would: until all have ended, one fails, or this is
    cancelled. Then every other is stopped for certain, and the first failure is raised as it
    is (not in an ExceptionGroup)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        await _stop_all(tasks)
    for task in tasks:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error


async def _stop_all(tasks: list[asyncio.Task[None]]) -> None:
    """Every task ended before this returns, even if this is cancelled meanwhile (a service
    runner cancels again each second): then the cancel is raised once all have."""
    cancelled = False
    for task in tasks:
        while not task.done():
            task.cancel()
            try:
                await asyncio.wait({task}, timeout=CANCEL_AGAIN)
            except asyncio.CancelledError:
                cancelled = True
    if cancelled:
        raise asyncio.CancelledError
