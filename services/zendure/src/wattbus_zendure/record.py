"""The hold's record on disk: the battery's own settings, saved before the hold touches it, and
how they are written so that no crash leaves half a file.

A setting is named as on the bus ("min_soc" in %, "output_limit" in W); `describe` says them
as the bridge's events and logs do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict
from wattbus.models import HoldRoute

# A setting by its wattbus name ("min_soc" in %, "output_limit" in W) and value.
Settings = dict[str, float]


class Saved(BaseModel):
    """The battery's own settings, as they were before the hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_soc: float  # %
    output_limit: float  # W
    # the device's own smartMode (1 RAM, 0 flash); None in a version-1 record, or when the
    # device did not report it: the restore is then written in RAM
    smart_mode: Literal[0, 1] | None = None

    def describe(self) -> str:
        """For the answer to a release: what the owner has back."""
        mode = "" if self.smart_mode is None else f", smartMode {self.smart_mode}"
        return describe(settings_of(self)) + mode


class HoldRecord(BaseModel):
    """The file's content. `route` is None between saving and a confirmed hold, so a crash
    in that window still leaves a record that restores the saved settings. Version 1 (before
    smartMode was saved) still loads, and is written back as version 2."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1, 2] = 2
    saved: Saved
    route: HoldRoute | None
    since: AwareDatetime
    expires: AwareDatetime
    # a release was asked for and failed: every poll tries it again, whatever the lease says
    release_requested: bool = False


def settings_of(saved: Saved) -> Settings:
    return {"min_soc": saved.min_soc, "output_limit": saved.output_limit}


def describe(settings: Mapping[str, float | None]) -> str:
    units = {"min_soc": "%", "output_limit": "W"}
    return ", ".join(f"{name} {value:g} {units[name]}" if value is not None else f"{name} ?"
                     for name, value in settings.items())  # fmt: skip


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
