"""What can go wrong when talking to a Zappi through myenergi's servers, in the groups a caller
handles differently.

pymyenergi's and httpx's errors are turned into these in one place, `client.Zappi._call`, so a
bridge catches `MyenergiError` and nothing else.
"""

from __future__ import annotations


class MyenergiError(Exception):
    """Base of every error this package raises."""


class ServerConnectionError(MyenergiError):
    """myenergi's servers could not be reached; a later retry may work."""


class ServerTimeoutError(ServerConnectionError):
    """The server did not answer in time; a command may or may not have reached the Zappi."""


class InvalidAuthError(MyenergiError):
    """The hub serial or the API key is wrong (the director named no server for them, or the
    server answered 401); retrying will not help until the settings are fixed."""


class ServerResponseError(MyenergiError):
    """The server answered, but with an error status or not with the documented JSON."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotAppliedError(MyenergiError):
    """The Zappi took part of a command but not all of it: reading it back shows the rest
    unchanged. (A command of which it took nothing is refused, as a `CommandError`.)"""
