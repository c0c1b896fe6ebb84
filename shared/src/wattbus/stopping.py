"""Stopping a task for certain on Python 3.11.

3.11's `asyncio.wait_for`, which aiomqtt awaits in every publish, subscribe, connect and
disconnect, returns its result and drops a cancel that lands just as its future completes.
The task then runs on as if never asked to stop, and whoever awaits it waits for ever: a
service that ignores `docker stop`, a test that hangs in its teardown (seen in CI). Python
3.12 fixed it; until then every stop goes through `stop`.
"""

from __future__ import annotations

import asyncio
from typing import Any

CANCEL_AGAIN = 1.0  # s a cancelled task has to end before it is cancelled once more


async def stop(task: asyncio.Future[Any]) -> None:
    """Cancel `task` until it has ended; an exception it ended with is raised here."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN)
    if not task.cancelled():
        task.result()
