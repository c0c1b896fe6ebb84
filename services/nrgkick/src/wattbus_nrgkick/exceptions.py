"""What the NRGKICK clients raise: one base, so the bridge marks the charger offline for any."""

from __future__ import annotations


class NrgkickError(Exception):
    """The charger could not be read or written (unreachable, bad answer)."""


class NrgkickAuthError(NrgkickError):
    """401/403: the JSON API's BasicAuth is on and the login is missing or wrong."""


class NrgkickRefused(NrgkickError):
    """The charger answered a `/control` write with `{"Response": "<message>"}`: it took
    nothing, and its message is the reason a user reads."""
