"""What the Smappee client raises: one base, so the bridge marks the meter offline for any, and
the groups a caller treats differently (a login to fix, a cloud that asks to wait)."""

from __future__ import annotations

from datetime import datetime


class SmappeeError(Exception):
    """The cloud could not be read (unreachable, a bad answer, no data yet)."""


class SmappeeAuthError(SmappeeError):
    """The client id and secret, or the owner's login, were refused: retrying will not help
    until the settings change."""


class SmappeeBusy(SmappeeError):
    """The cloud said to wait (HTTP 429, or 5xx): no request is sent before `until`."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until
