"""Errors a caller of the Shelly client must tell apart: retry later, fix the password, or report.

Library errors (httpx, pydantic) never leave the client; they are turned into these in
`client.py` with `raise ... from err`, so the original stays in the traceback.
"""

from __future__ import annotations


class ShellyError(Exception):
    """Base of every error this package raises."""


class DeviceConnectionError(ShellyError):
    """The device could not be reached or dropped the connection; a later retry may work."""


class DeviceTimeoutError(DeviceConnectionError):
    """The device did not answer in time."""


class InvalidAuthError(ShellyError):
    """The device wants a password that is missing or wrong; retrying will not help."""


class DeviceResponseError(ShellyError):
    """The device answered, but with an error or with something that is not the expected JSON.

    `code` and `message` are the device's own RPC error when it sent one (e.g. 404,
    "No handler for EM.GetStatus"); `status` is the HTTP status.
    """

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
