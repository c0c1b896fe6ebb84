"""What can go wrong when talking to a SolarFlow, in the groups a caller handles differently.

Library errors (sockets, h11, JSON, pydantic) are turned into these in one place,
`SolarFlow._request`, so that a bridge catches `ZendureError` (and the hold's own
`wattbus.hold.HoldError`) and nothing else. A device that answered but said no is also the
hold's `DeviceAnswerError`, a refused write its `RefusedError`, so the shared hold tells them
from a device it could not reach.
"""

from __future__ import annotations

from wattbus.hold import DeviceAnswerError, RefusedError


class ZendureError(Exception):
    """Base of every error this package raises."""


class DeviceConnectionError(ZendureError):
    """The device could not be reached (refused, reset, no route): worth retrying later."""


class DeviceTimeoutError(DeviceConnectionError):
    """The device did not answer in time; it may or may not have applied a write."""


class DeviceResponseError(ZendureError, DeviceAnswerError):
    """The device answered, but not with what the protocol promises: an error status
    (a refused write is a 400), or a body that is not the documented JSON."""

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class DeviceRefusedError(DeviceResponseError, RefusedError):
    """The device refused a request (HTTP 4xx; a write with a value out of its range is a
    400) and applied none of it. It was reached: this is no reason to call it offline."""
