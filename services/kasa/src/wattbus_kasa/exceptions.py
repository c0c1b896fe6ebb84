"""What the plug client raises: one base, so the bridge marks the plug offline for any."""

from __future__ import annotations


class KasaError(Exception):
    """The plug could not be read or written (unreachable, a wrong login, a bad answer)."""


class KasaRefused(KasaError):
    """The plug answered a write with an error code: it switched nothing, and its words are
    the reason a user reads."""
