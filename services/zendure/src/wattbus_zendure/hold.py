"""Keeping a SolarFlow from discharging while something else (an EV) draws power.

A hold is a lease: whoever asks for it must renew it, and when renewals stop (controller gone,
broker down) `expire` gives the battery back its own settings. Those settings are saved to a
file before the device is touched, so a bridge restart in the middle of a hold still restores
them, and they are deleted only once a read-back shows the device has them again.

The device is never trusted to have applied a write. Some firmware refuses `minSoc` above 50 %
without saying so (it answers 200 and keeps the old value), so the hold falls back to
`outputLimit` 0 and reports which route it used.

A restore the device refuses (HTTP 400) cannot block the rest: each setting is then written on
its own, and one the device still refuses after `RESTORE_ATTEMPTS` tries is replaced by its
configured fallback, with a `restore_failed` error event; a battery is never held for good
because one saved value became unacceptable. A lease that runs out says so with a
`lease_expired` notice.

Saved are all the settings a hold writes: `minSoc`, `outputLimit`, and `smartMode`, which goes
with every write. The hold itself is written in RAM (smartMode 1); the restore carries the
owner's own smartMode, so an owner at smartMode 0 gets one flash write per hold and the unit
exactly as it was.

No method reads a clock: the caller passes `now` (aware, UTC), which keeps this testable and
lets a replay drive it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from contextlib import suppress
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import ValidationError
from wattbus.bridge import DeviceEvent, Outbox
from wattbus.commands import CommandError
from wattbus.models import BatteryState, EventKind, HoldRoute

from wattbus_zendure.client import SolarFlow
from wattbus_zendure.exceptions import (
    DeviceRefusedError,
    DeviceResponseError,
    HoldFileError,
    NotAppliedError,
    ZendureError,
)
from wattbus_zendure.held import (
    HELD_MIN_SOC,
    HELD_OUTPUT_LIMIT,
    PERCENT_TOLERANCE,
    WATT_TOLERANCE,
    close,
    min_soc_looks_held,
    output_looks_held,
    reads,
    reads_back,
)
from wattbus_zendure.models import Properties
from wattbus_zendure.record import (
    HoldRecord,
    Saved,
    Settings,
    describe,
    settings_of,
    write_atomically,
)

log = logging.getLogger(__name__)

# %: what zenSDK documents for minSoc (0-500, tenths). Some firmware takes more (the hold's
# 100 % relies on it where it can), but a user's value above this may be refused at release.
USER_MIN_SOC_MAX = 50.0
RESTORE_ATTEMPTS = 3  # releases or polls a refused setting is tried before its fallback


class Release(StrEnum):
    """What `release` did, for the bridge's event."""

    RESTORED = "restored"  # the saved settings are back on the device
    SUBSTITUTED = "substituted"  # saved, but some refused to the end: fallbacks in their place
    FALLBACK = "fallback"  # nothing was saved but the device looked held: fallbacks written
    NOTHING = "nothing"  # there was no hold to undo


class Setting(StrEnum):
    """What a user's `min_soc` / `output_limit` change did, for the bridge's event."""

    APPLIED = "applied"  # written to the device and read back
    DEFERRED = "deferred"  # the battery is held: the saved value changed, applied at release


class Holder:
    """Holds one SolarFlow and gives its settings back, surviving restarts of the bridge."""

    def __init__(
        self,
        flow: SolarFlow,
        path: str | os.PathLike[str],
        *,
        fallback_min_soc: float | None = None,
        fallback_output_limit: float | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        """`fallback_*` are the settings to return to when the device looks held but no
        record says what it had (the file was lost), or when it keeps refusing a saved one;
        without them such a setting is left alone. `outbox` receives the notices and errors
        of restores nobody asked for by command (lease expiry, refusals)."""
        self._flow = flow
        self._path = Path(path)
        self.fallback_min_soc = fallback_min_soc
        self.fallback_output_limit = fallback_output_limit
        self.outbox = outbox if outbox is not None else Outbox()
        self._record: HoldRecord | None = None
        # the settings of a restore under way the device has not taken yet, and how many
        # attempts it refused; in memory: a restart starts the restore over
        self._restoring = False  # a restore has started: the hold is not to be kept
        self._remaining: Settings | None = None
        self._refused_attempts = 0
        self._substituted: Settings = {}  # fallbacks the last restore wrote in their place
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
    def saved(self) -> Saved | None:
        return None if self._record is None else self._record.saved

    def annotate(self, state: BatteryState) -> BatteryState:
        """The device's state with the hold as this holder knows it (the device cannot say)."""
        return state.model_copy(
            update={"hold": self.held, "hold_route": self.route, "hold_expires": self.expires}
        )

    # ---- lease ------------------------------------------------------------------------------

    def load(self) -> None:
        """Pick up a hold a previous run left, so it keeps its expiry and is released once.

        An unreadable file is moved aside (kept for a human) rather than trusted; the
        fallback values then cover the release.
        """
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._record = None
            return
        except OSError as err:
            raise HoldFileError(f"cannot read {self._path}: {err}") from err
        try:
            self._record = HoldRecord.model_validate_json(text).model_copy(update={"version": 2})
        except ValidationError as err:
            aside = self._path.with_name(self._path.name + ".corrupt")
            log.error("%s is not a hold record (%s); moved to %s", self._path, err, aside)
            with suppress(OSError):
                os.replace(self._path, aside)
            self._record = None
            return
        log.info("resuming a hold (%s) until %s", self._record.route, self._record.expires)

    async def hold(
        self, lease: float, now: datetime, *, known: Properties | None = None
    ) -> HoldRoute:
        """Stop the battery discharging until `now + lease` s, unless renewed.

        A renewal only moves the expiry: re-reading the device then would save the held values
        as if they were the user's, and the release would keep the battery held for good.
        `known` is a report the caller read moments ago and has written nothing since; saving
        from it spares a round trip before the hold lands.
        """
        _check_now(now)
        if not (math.isfinite(lease) and lease > 0):
            raise ValueError(f"lease must be > 0 s, not {lease!r}")
        expires = now + timedelta(seconds=lease)
        async with self._lock:
            record = self._record
            if record is not None:
                record = record.model_copy(update={"expires": expires, "release_requested": False})
                await self._store(record)
                if record.route is not None and not self._restoring:
                    return record.route
                # an earlier hold saved the settings but never confirmed, or a restore has
                # begun to put them back: hold again
                self._end_restore()
            else:
                saved = await self._read_prior(known)
                record = HoldRecord(saved=saved, route=None, since=now, expires=expires)
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
        _check_now(now)
        async with self._lock:
            try:
                return await self._release(now)
            except ZendureError:
                await self._owe_release()
                raise

    async def expire(self, now: datetime) -> bool:
        """Release if the lease ran out or a failed release is owed; called each poll.
        True when it restored. A lease that ran out is a `lease_expired` notice."""
        _check_now(now)
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
            restored = settings_of(record.saved) | self._substituted
            self.outbox.put(
                DeviceEvent(
                    EventKind.NOTICE,
                    "lease_expired",
                    f"hold lease ran out at {record.expires:%H:%M:%S}: restored "
                    + describe(restored),
                    {"restored": dict(restored), "expired": record.expires.isoformat()},
                )
            )
            return True

    async def keep(self, props: Properties) -> bool:
        """Re-apply a hold the device has dropped; called with each report.

        Settings written with smartMode=1 live in RAM: a device that reboots mid-hold comes
        back with its flash values and would discharge into the car. True when re-applied.
        """
        async with self._lock:
            record = self._record
            if record is None or record.route is None or self._restoring:
                return False
            if record.route is HoldRoute.MIN_SOC:
                if min_soc_looks_held(props):
                    return False
                settings = {"min_soc": HELD_MIN_SOC}
            else:
                # the record says we hold by output limit: 0 is held, in either AC mode
                if props.output_limit == HELD_OUTPUT_LIMIT:
                    return False
                settings = {"output_limit": HELD_OUTPUT_LIMIT}
            log.warning("the device dropped the hold (a reboot?): applying %s again", settings)
            await self._write(settings, None)
            await self._verify(**settings)
            return True

    # ---- user settings ------------------------------------------------------------------

    async def set_min_soc(self, percent: float, now: datetime) -> Setting:
        """The user's discharge floor: on the device now, or at release if held (writing it
        now would end the hold, and the release would then overwrite it).

        Checked against what the device is documented to take before anything is said or
        saved: a deferred value the device refuses at release would block the restore."""
        _check_now(now)
        if not 0 <= percent <= USER_MIN_SOC_MAX:
            raise CommandError(
                f"min_soc {percent:g} % is outside what a SolarFlow takes "
                f"(0-{USER_MIN_SOC_MAX:g} %)"
            )
        return await self._set(min_soc=percent)

    async def set_output_limit(self, watts: float, now: datetime) -> Setting:
        """The user's AC output limit, on the same terms as `set_min_soc`: at most the
        unit's own `inverseMaxPower`, which it reports."""
        _check_now(now)
        top = (await self._flow.report()).properties.inverse_max_power
        if not (math.isfinite(watts) and 0 <= watts <= (math.inf if top is None else top)):
            raise CommandError(
                f"output_limit {watts:g} W is outside what this SolarFlow takes (0-{top} W)"
            )
        return await self._set(output_limit=watts)

    # ---- internals ----------------------------------------------------------------------

    async def _set(
        self, *, min_soc: float | None = None, output_limit: float | None = None
    ) -> Setting:
        async with self._lock:
            record = self._record
            if record is not None:
                saved = record.saved.model_copy(
                    update={
                        "min_soc": record.saved.min_soc if min_soc is None else min_soc,
                        "output_limit": (
                            record.saved.output_limit if output_limit is None else output_limit
                        ),
                    }
                )
                await self._store(record.model_copy(update={"saved": saved}))
                self._remaining = None  # a restore under way writes the new value too
                return Setting.DEFERRED
            await self._flow.write_settings(min_soc=min_soc, output_limit=output_limit)
            await self._verify(min_soc=min_soc, output_limit=output_limit)
            return Setting.APPLIED

    async def _read_prior(self, known: Properties | None = None) -> Saved:
        """What the battery has now, to be restored later.

        A device that already looks held with no record (the file was lost mid-hold) would
        make its held values the "prior" ones; where a fallback is configured, that is saved
        instead.
        """
        props = known if known is not None else (await self._flow.report()).properties
        min_soc: float | None = props.min_soc_percent
        output_limit: float | None = props.output_limit
        if min_soc is None or output_limit is None:
            raise DeviceResponseError("report lacks minSoc or outputLimit: nothing to save")
        if min_soc_looks_held(props):
            if self.fallback_min_soc is not None:
                log.warning("minSoc already %s %% with no hold record: saving the fallback",
                            min_soc)  # fmt: skip
                min_soc = self.fallback_min_soc
            else:
                log.warning("minSoc already %s %% with no hold record and no fallback: "
                            "the release will leave it there", min_soc)  # fmt: skip
        if output_looks_held(props):
            if self.fallback_output_limit is not None:
                log.warning("outputLimit already 0 W with no hold record: saving the fallback")
                output_limit = self.fallback_output_limit
            else:
                log.warning("outputLimit already 0 W with no hold record and no fallback: "
                            "the release will leave it there")  # fmt: skip
        smart_mode = props.smart_mode if props.smart_mode in (0, 1) else None
        return Saved(min_soc=min_soc, output_limit=output_limit, smart_mode=smart_mode)

    async def _give_back(self, record: HoldRecord, now: datetime) -> Release:
        """One attempt at restoring the saved settings; the record goes once all are back.

        Settings the device took stay taken: a later attempt writes only the rest. After
        `RESTORE_ATTEMPTS` refused attempts the rest get their fallbacks instead."""
        saved = record.saved
        self._restoring = True
        remaining = self._remaining if self._remaining is not None else settings_of(saved)
        failed = await self._restore(remaining, saved.smart_mode)
        self._substituted = {}
        if failed:
            self._remaining = {k: v for k, v in remaining.items() if k in failed} or remaining
            self._refused_attempts += 1
            why = "; ".join(failed.values())
            if self._refused_attempts < RESTORE_ATTEMPTS:
                raise NotAppliedError(
                    f"restore attempt {self._refused_attempts} of {RESTORE_ATTEMPTS}: {why}"
                )
            await self._give_up(self._remaining, saved, why)
        await self._forget()
        log.info("released after %s, restored %s", now - record.since, saved)
        return Release.SUBSTITUTED if failed else Release.RESTORED

    async def _give_up(self, refused: Settings, saved: Saved, why: str) -> None:
        """The fallbacks in place of what the device keeps refusing, and an `error` event:
        a battery left held because one value became unacceptable would never discharge.

        Without a configured output-limit fallback, the unit's own `inverseMaxPower` stands
        in: the output cap its owner set (800 W where the law says so), which the unit always
        takes as an output limit, where an output limit left at 0 would hold it for good."""
        output_fallback = self.fallback_output_limit
        if "output_limit" in refused and output_fallback is None:
            props = (await self._flow.report()).properties
            if props.inverse_max_power is not None:
                output_fallback = float(props.inverse_max_power)
        fallbacks = {"min_soc": self.fallback_min_soc, "output_limit": output_fallback}
        written = {k: v for k in refused if (v := fallbacks.get(k)) is not None}
        left = sorted(k for k in refused if k not in written)
        if written:
            failed = await self._restore(written, saved.smart_mode)
            if failed:
                raise NotAppliedError("fallbacks not applied: " + "; ".join(failed.values()))
        self._substituted = written
        reason = f"the device refused restoring {describe(refused)} {RESTORE_ATTEMPTS} times"
        reason += f" ({why}); wrote {describe(written)} instead" if written else f" ({why})"
        if left:
            reason += f"; no fallback for {', '.join(left)}, left as the device has it"
        self.outbox.put(
            DeviceEvent(
                EventKind.ERROR,
                "restore_failed",
                reason,
                {"refused": dict(refused), "written": written, "left": left},
            )
        )

    async def _apply(self, saved: Saved) -> HoldRoute:
        """Try minSoc 100 %, then outputLimit 0; keep whichever the device really applied."""
        for route, settings in (
            (HoldRoute.MIN_SOC, {"min_soc": HELD_MIN_SOC}),
            (HoldRoute.OUTPUT_LIMIT, {"output_limit": HELD_OUTPUT_LIMIT}),
        ):
            try:
                await self._write(settings, None)
                await self._verify(**settings)
            except (DeviceResponseError, NotAppliedError) as err:
                log.warning("hold by %s not applied: %s", route, err)
                continue
            return route
        # the first attempt may have half-worked (e.g. a clamped minSoc): put everything back
        failed = await self._restore(settings_of(saved), saved.smart_mode)
        if failed:  # the record stays, and the release or the lease finishes the restore
            raise NotAppliedError("; ".join(failed.values()))
        await self._forget()
        raise NotAppliedError("the device applied neither minSoc 100 % nor outputLimit 0")

    async def _release(self, now: datetime) -> Release:
        record = self._record
        if record is not None:
            # both values, whatever the route: a refused first route may have left a trace
            return await self._give_back(record, now)
        if self.fallback_min_soc is None and self.fallback_output_limit is None:
            return Release.NOTHING
        props = (await self._flow.report()).properties
        min_soc = self.fallback_min_soc if min_soc_looks_held(props) else None
        output_limit = self.fallback_output_limit if output_looks_held(props) else None
        if min_soc is None and output_limit is None:
            return Release.NOTHING
        log.warning(
            "device looks held with no record: fallback %s %% / %s W", min_soc, output_limit
        )
        await self._flow.write_settings(min_soc=min_soc, output_limit=output_limit)
        await self._verify(min_soc=min_soc, output_limit=output_limit)
        return Release.FALLBACK

    async def _restore(self, settings: Settings, smart_mode: int | None) -> dict[str, str]:
        """Write the owner's settings with the owner's smartMode, and read them back; what
        did not take, with why. All in one request; if the device refuses it, each setting
        on its own, so that a value it refuses cannot keep the others off the device.
        A smartMode that does not read back counts against the settings written with it."""
        refused: dict[str, str] = {}
        try:
            await self._write(settings, smart_mode)
        except DeviceRefusedError as err:
            if len(settings) == 1:
                refused = dict.fromkeys(settings, str(err))
            else:
                for name, value in settings.items():
                    try:
                        await self._write({name: value}, smart_mode)
                    except DeviceRefusedError as one:
                        refused[name] = str(one)
        props = (await self._flow.report()).properties
        failed = refused | {
            name: f"device reads back {reads(props, name)} (wrote {describe({name: value})})"
            for name, value in settings.items()
            if name not in refused and not reads_back(props, name, value)
        }
        taken = [name for name in settings if name not in failed]
        if taken and smart_mode is not None and props.smart_mode != smart_mode:
            why = f"device reads back smartMode {props.smart_mode} (wrote {smart_mode})"
            failed |= dict.fromkeys(taken, why)
        return failed

    async def _write(self, settings: Settings, smart_mode: int | None) -> None:
        await self._flow.write_settings(
            min_soc=settings.get("min_soc"),
            output_limit=settings.get("output_limit"),
            owners_smart_mode=smart_mode,
        )

    async def _verify(
        self, *, min_soc: float | None = None, output_limit: float | None = None
    ) -> None:
        """Read back: a 200 to a write does not mean the value was applied."""
        props = (await self._flow.report()).properties
        wrong = []
        if min_soc is not None and not close(props.min_soc_percent, min_soc, PERCENT_TOLERANCE):
            wrong.append(f"minSoc {props.min_soc_percent} % (wrote {min_soc} %)")
        if output_limit is not None and not close(props.output_limit, output_limit, WATT_TOLERANCE):
            wrong.append(f"outputLimit {props.output_limit} W (wrote {output_limit} W)")
        if wrong:
            raise NotAppliedError("device reads back " + ", ".join(wrong))

    async def _store(self, record: HoldRecord, *, sync: bool = True) -> None:
        """Disk first, then memory: this object never claims more than the file holds.

        Without `sync` (the first record of a hold) it is written on the loop and not synced:
        the hold's device write waits for it, and a sync (with its hop to a thread) costs about
        a millisecond. Once written, the record survives a crash of this process; the synced
        write that confirms the route follows one device round trip later. Only a power cut
        of this host in between can lose it, and the device then looks held with no record,
        which the fallback values cover."""
        text = record.model_dump_json(indent=2)
        try:
            if sync:
                await asyncio.to_thread(write_atomically, self._path, text)
            else:
                write_atomically(self._path, text, sync=False)
        except OSError as err:
            raise HoldFileError(f"cannot write {self._path}: {err}") from err
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
        try:
            await asyncio.to_thread(self._path.unlink, missing_ok=True)
        except OSError as err:
            raise HoldFileError(f"cannot remove {self._path}: {err}") from err
        self._record = None
        self._end_restore()

    def _end_restore(self) -> None:
        self._restoring = False
        self._remaining = None
        self._refused_attempts = 0


def _check_now(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
