"""The hold's record on disk: the battery's own settings, saved before the hold touches it,
and how it is read and written so that no crash leaves half a file.

The file is the same for every battery: `version`, `saved` (the port's saved model),
`route` (None until a hold is confirmed), `since`, `expires`, `release_requested`. Version 1
is the Zendure record from before smartMode was saved; it loads because the Zendure saved
model's `smart_mode` defaults to None, and is written back as version 2.
"""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import suppress
from pathlib import Path
from typing import Generic, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from wattbus.hold.exceptions import HoldFileError
from wattbus.hold.port import S
from wattbus.models import HoldRoute

log = logging.getLogger(__name__)

VERSION: Literal[2] = 2


class HoldRecord(BaseModel, Generic[S]):
    """The file's content. `route` is None between saving and a confirmed hold, so a crash
    in that window still leaves a record that restores the saved settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1, 2] = VERSION
    saved: S
    route: HoldRoute | None
    since: AwareDatetime
    expires: AwareDatetime
    # a release was asked for and failed: every poll tries it again, whatever the lease says
    release_requested: bool = False


def load_record(path: Path, model: type[HoldRecord[S]]) -> HoldRecord[S] | None:
    """The record a previous run left, or None. An unreadable file is moved aside (kept for a
    human) rather than trusted; the fallback values then cover the release."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise HoldFileError(f"cannot read {path}: {err}") from err
    try:
        return model.model_validate_json(text).model_copy(update={"version": VERSION})
    except ValidationError as err:
        aside = path.with_name(path.name + ".corrupt")
        log.error("%s is not a hold record (%s); moved to %s", path, err, aside)
        with suppress(OSError):
            os.replace(path, aside)
        return None


async def store_record(path: Path, record: HoldRecord[S], *, sync: bool = True) -> None:
    """Replace the file with `record`, whole.

    Without `sync` (the first record of a hold) it is written on the loop and not synced:
    the hold's device write waits for it, and a sync (with its hop to a thread) costs about
    a millisecond. Once written, the record survives a crash of this process; the synced
    write that confirms the route follows one device round trip later. Only a power cut
    of this host in between can lose it, and the device then looks held with no record,
    which the fallback values cover."""
    text = record.model_dump_json(indent=2)
    try:
        if sync:
            await asyncio.to_thread(write_atomically, path, text)
        else:
            write_atomically(path, text, sync=False)
    except OSError as err:
        raise HoldFileError(f"cannot write {path}: {err}") from err


async def remove_record(path: Path) -> None:
    """The hold is over: only once a read-back showed the restore."""
    try:
        await asyncio.to_thread(path.unlink, missing_ok=True)
    except OSError as err:
        raise HoldFileError(f"cannot remove {path}: {err}") from err


def write_atomically(path: Path, text: str, *, sync: bool = True) -> None:
    """Temp file in the same folder, fsync, rename: a crash leaves the old file or the new
    one, never half of one. Without `sync`, that holds for a crash of the process, not of
    the host. Plain os calls, four of them without `sync`: on the hold's path each system call
    counts (bench/README.md)."""
    tmp = path.with_name(f".{path.name}.tmp")  # one writer: the Holder's lock
    data = text.encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while data:
            data = data[os.write(fd, data) :]
        if sync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    if not sync:
        return
    with suppress(OSError):  # make the rename itself durable where the OS allows it
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
