"""What the hold raises, and what it needs to tell apart in a device client's errors.

A battery bridge's client keeps its own error classes (one base per package, as the bridge
shell catches) and also derives the two device-answer kinds below from these, so the hold can
tell a device that said no from one it could not reach: a refused write is split up and
counted, an unreachable device is simply tried again.
"""

from __future__ import annotations


class HoldError(Exception):
    """Base of the errors the hold raises itself. A bridge lists it among the errors its
    shell catches, next to its device package's own base."""


class HoldFileError(HoldError):
    """The hold's record file could not be read, written or removed.

    A hold that cannot save the battery's settings first is not started, so this is raised
    before anything on the device changes.
    """


class NotAppliedError(HoldError):
    """The device did not apply a write: it refused it, or reading it back shows another
    value.

    Batteries answer a write they ignore like any other (a SolarFlow keeps its old minSoc
    above 50 %; Tesla drops one of mode and reserve), so a write counts only once a
    read-back confirms it.
    """


class DeviceAnswerError(Exception):
    """The device answered, but not with what was asked: an error status, or an answer that
    cannot be read. A hold route that meets this is not taken; the next one is tried."""


class RefusedError(DeviceAnswerError):
    """The device refused a write and applied none of it (a value out of its range). A
    restore it refuses is written one setting at a time, so one value cannot keep the
    others off the device."""
