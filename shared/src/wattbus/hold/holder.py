"""Keeping a battery from discharging while something else (an EV) draws power, for any
battery whose bridge plugs in a `BatteryPort`.

A hold is a lease: when renewals stop (controller gone, broker down) `expire` gives the
battery back its own settings, with a `lease_expired` notice. They are saved to a file before
the device is touched, so a restart mid-hold still restores them, and deleted only once a
read-back shows them on the device. No write is trusted until read back: the port's routes
are tried in order, a dropped hold is written again (`keep`), an owner's change while held goes
into the record, a failed release is owed and retried each poll (restore.py for the rest).

No method reads a clock: the caller passes `now` (aware, UTC), so tests and replays drive it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Generic

from wattbus.bridge import DeviceEvent, Outbox
from wattbus.hold.exceptions import DeviceAnswerError, HoldError, HoldFileError, NotAppliedError
from wattbus.hold.port import (
    BatteryPort,
    R,
    S,
    Settings,
    Value,
    describe,
    phrase,
    settings_of,
    shows,
)
from wattbus.hold.readback import verify
from wattbus.hold.record import HoldRecord, load_record, remove_record, store_record
from wattbus.hold.restore import Restore
from wattbus.hold.unrecorded import prior, release_unrecorded
from wattbus.models import BatteryState, EventKind, HoldRoute

log = logging.getLogger(__name__)


class Release(StrEnum):
    """What `release` did, for the bridge's event."""

    RESTORED = "restored"  # the saved settings are back on the device
    SUBSTITUTED = "substituted"  # saved, but some refused to the end: fallbacks in their place
    FALLBACK = "fallback"  # nothing was saved but the device looked held: fallbacks written
    NOTHING = "nothing"  # there was no hold to undo


class Setting(StrEnum):
    """What an owner's setting change did, for the bridge's event."""

    APPLIED = "applied"  # written to the device and read back
    DEFERRED = "deferred"  # the battery is held: the saved value changed, applied at release


class Holder(Generic[R, S]):
    """Holds one battery and gives its settings back, surviving restarts of the bridge."""

    def __init__(
        self,
        port: BatteryPort[R, S],
        path: str | os.PathLike[str],
        *,
        fallbacks: Mapping[str, Value] | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        """`fallbacks` are the settings to return to when the device looks held but no
        record says what it had (the file was lost), or when it keeps refusing a saved one;
        a setting without one is left alone. `outbox` receives the notices and errors of
        restores nobody asked for by command (lease expiry, refusals)."""
        self.port = port
        self._path = Path(path)
        # parametrised at run time, which mypy takes for a type it cannot find
        self._record_model = HoldRecord[port.saved_model]  # type: ignore[name-defined]
        self.fallbacks: Settings = dict(fallbacks or {})
        self.outbox = outbox if outbox is not None else Outbox()
        self._errors: tuple[type[Exception], ...] = (HoldError, *port.errors)
        self._record: HoldRecord[S] | None = None
        self._restore = Restore(port, self.fallbacks, self.outbox)
        # made once, here, not on every write; if it cannot be, the first hold says so and
        # touches nothing
        with suppress(OSError):
            self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = asyncio.Lock()  # one hold/release/setting change at a time
        self.load()

    # ---- what the bridge publishes -------------------------------------------------------

    @property
    def held(self) -> bool:
        """True from the moment settings are saved until a restore is confirmed."""
        return self._record is not None

    @property
    def route(self) -> HoldRoute | None:
        return None if self._record is None else self._record.route

    @property
    def expires(self) -> datetime | None:
        return None if self._record is None else self._record.expires

    @property
    def saved(self) -> S | None:
        return None if self._record is None else self._record.saved

    def annotate(self, state: BatteryState) -> BatteryState:
        """The device's state with the hold as this holder knows it (the device cannot say)."""
        return state.model_copy(
            update={"hold": self.held, "hold_route": self.route, "hold_expires": self.expires}
        )

    # ---- lease ------------------------------------------------------------------------------

    def load(self) -> None:
        """Pick up a hold a previous run left, so it keeps its expiry and is released once."""
        self._record = load_record(self._path, self._record_model)
        if self._record is not None:
            log.info("resuming a hold (%s) until %s", self._record.route, self._record.expires)

    async def hold(self, lease: float, now: datetime, *, known: R | None = None) -> HoldRoute:
        """Stop the battery discharging until `now + lease` s, unless renewed.

        A renewal only moves the expiry: re-reading the device then would save the held values
        as if they were the owner's, and the release would keep the battery held for good.
        `known` is a reading the caller took moments ago and has written nothing since; saving
        from it spares a round trip before the hold lands.
        """
        check_now(now)
        if not (math.isfinite(lease) and lease > 0):
            raise ValueError(f"lease must be > 0 s, not {lease!r}")
        expires = now + timedelta(seconds=lease)
        async with self._lock:
            record = self._record
            if record is not None:
                record = record.model_copy(update={"expires": expires, "release_requested": False})
                await self._store(record)
                if record.route is not None and not self._restore.under_way:
                    return record.route
                # an earlier hold saved the settings but never confirmed, or a restore has
                # begun to put them back: hold again
                self._restore.end()
            else:
                reading = known if known is not None else await self.port.read()
                saved = prior(self.port, reading, self.fallbacks)
                record = self._record_model(saved=saved, route=None, since=now, expires=expires)
                await self._store(record, sync=False)  # before the device changes
            route = await self._apply(record.saved)
            await self._store(record.model_copy(update={"route": route}))
            log.info("holding by %s until %s (saved %s)", route, expires, record.saved)
            return route

    async def release(self, now: datetime) -> Release:
        """Give the battery back what it had; safe to call again and again.

        The record is deleted only after a read-back confirms the restore, so a failure
        (device unreachable, value not applied) raises, and the record then says the release
        is owed: `expire`, on every poll, tries again until it succeeds.
        """
        check_now(now)
        async with self._lock:
            try:
                return await self._release(now)
            except self._errors:
                await self._owe_release()
                raise

    async def expire(self, now: datetime) -> bool:
        """Release if the lease ran out or a failed release is owed; called each poll.
        True when it restored. A lease that ran out is a `lease_expired` notice."""
        check_now(now)
        async with self._lock:
            record = self._record
            if record is None or (now < record.expires and not record.release_requested):
                return False
            if record.release_requested:
                log.info("retrying the release that failed")
                await self._release(now)
                return True
            log.warning("hold lease ran out at %s: restoring", record.expires)
            await self._release(now)
            restored = settings_of(record.saved, self.port.specs) | self._restore.substituted
            self.outbox.put(
                DeviceEvent(
                    EventKind.NOTICE,
                    "lease_expired",
                    f"hold lease ran out at {record.expires:%H:%M:%S}: restored "
                    + describe(restored, self.port.specs),
                    {"restored": dict(restored), "expired": record.expires.isoformat()},
                )
            )
            return True

    async def keep(self, reading: R) -> bool:
        """Re-apply a hold the device has dropped; called with each reading.

        Batteries lose what was written to them when they reboot (a SolarFlow keeps it in
        RAM), and one that comes back without the hold would discharge into the car. True
        when re-applied.
        """
        async with self._lock:
            record = self._record
            if record is None or record.route is None or self._restore.under_way:
                return False
            settings = dict(self.port.routes)[record.route]
            specs = self.port.specs
            if all(shows(specs[n], self.port.value(reading, n), v) for n, v in settings.items()):
                return False
            log.warning("the device dropped the hold (a reboot?): applying %s again", settings)
            await self.port.write(settings, None)
            await verify(self.port, settings)
            return True

    # ---- owner's settings -----------------------------------------------------------------

    async def change(self, settings: Settings, now: datetime) -> Setting:
        """The owner's own settings: on the device now, or at release if held (writing them
        now would end the hold, and the release would then overwrite them). The caller has
        checked them against what the device takes: a deferred value the device refuses at
        release would block the restore."""
        check_now(now)
        async with self._lock:
            record = self._record
            if record is not None:
                saved = record.saved.model_copy(update=settings)
                await self._store(record.model_copy(update={"saved": saved}))
                self._restore.deferred()
                return Setting.DEFERRED
            await self.port.write(settings, None)
            await verify(self.port, settings)
            return Setting.APPLIED

    # ---- internals ----------------------------------------------------------------------

    async def _apply(self, saved: S) -> HoldRoute:
        """Try each route in turn; keep the first the device really applied."""
        for route, settings in self.port.routes:
            try:
                await self.port.write(settings, None)
                await verify(self.port, settings)
            except (DeviceAnswerError, NotAppliedError) as err:
                log.warning("hold by %s not applied: %s", route, err)
                continue
            return route
        # a route may have half-worked (e.g. a clamped minSoc): put everything back
        failed = await self._restore.put_back(settings_of(saved, self.port.specs), saved)
        if failed:  # the record stays, and the release or the lease finishes the restore
            raise NotAppliedError("; ".join(failed.values()))
        await self._forget()
        tried = [self._as_held(settings) for _, settings in self.port.routes]
        if len(tried) == 1:
            raise NotAppliedError(f"the device did not apply {tried[0]}")
        raise NotAppliedError("the device applied neither " + " nor ".join(tried))

    def _as_held(self, settings: Settings) -> str:
        """A route's settings in the device's words: `minSoc 100 %`."""
        specs = self.port.specs
        return ", ".join(phrase(specs[n].label, v, specs[n].unit) for n, v in settings.items())

    async def _release(self, now: datetime) -> Release:
        record = self._record
        if record is not None:
            # every saved value, whatever the route: a refused first route may have left a trace
            replaced = await self._restore.attempt(record.saved)
            await self._forget()
            log.info("released after %s, restored %s", now - record.since, record.saved)
            return Release.SUBSTITUTED if replaced else Release.RESTORED
        if await release_unrecorded(self.port, self.fallbacks):
            return Release.FALLBACK
        return Release.NOTHING

    async def _store(self, record: HoldRecord[S], *, sync: bool = True) -> None:
        """Disk first, then memory: this object never claims more than the file holds."""
        await store_record(self._path, record, sync=sync)
        self._record = record

    async def _owe_release(self) -> None:
        record = self._record
        if record is None or record.release_requested:
            return
        owed = record.model_copy(update={"release_requested": True})
        try:
            await self._store(owed)
        except HoldFileError as err:  # retried all the same, until this process ends
            log.error("%s; the release is retried while the bridge runs", err)
            self._record = owed

    async def _forget(self) -> None:
        await remove_record(self._path)
        self._record = None
        self._restore.end()


def check_now(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
