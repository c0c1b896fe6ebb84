"""What can go wrong when talking to a SolarFlow, in the groups a caller handles differently.

Library errors (sockets, h11, JSON, pydantic) are turned into these in one place,
`SolarFlow._request`, so that a bridge catches `ZendureError` and nothing else.
"""

from __future__ import annotations


class ZendureError(Exception):
    """Base of every error this package raises."""


class DeviceConnectionError(ZendureError):
    """The device could not be reached (refused, reset, no route): worth retrying later."""


class DeviceTimeoutError(DeviceConnectionError):
    """The device did not answer in time; it may or may not have applied a write."""


class DeviceResponseError(ZendureError):
    """The device answered, but not with what the protocol promises: an error status
    (a refused write is a 400), or a body that is not the documented JSON."""

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class DeviceRefusedError(DeviceResponseError):
    """The device refused a request (HTTP 4xx; a write with a value out of its range is a
    400) and applied none of it. It was reached: this is no reason to call it offline."""


class NotAppliedError(ZendureError):
    """The device did not apply a write: it refused it, or reading it back shows another
    value.

    Some firmware answers a write of an out-of-range value like any other and silently keeps
    the old one, so a write counts only once a read-back confirms it.
    """


class HoldFileError(ZendureError):
    """The hold's record file could not be written or removed.

    A hold that cannot save the battery's settings first is not started, so this is raised
    before anything on the device changes.
    """
