"""A Kraken token and when to renew it.

Tokens are JWTs; their `exp` says when they end (EON Next also returns it as `payload.exp`).
A token is renewed `RENEW_BEFORE` its end with the refresh token, and the refresh token's own
end (`refreshExpiresIn`, which both suppliers send as a Unix time despite its name) says when
only a new login will do.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

RENEW_BEFORE = timedelta(minutes=5)
ASSUMED_LIFETIME = timedelta(hours=1)  # a token whose `exp` cannot be read (BottlecapDave's)
UNIX_TIME_FROM = 1_000_000_000  # a `refreshExpiresIn` above this is a time, not seconds


@dataclass(frozen=True)
class Token:
    token: str
    expires: datetime
    refresh_token: str | None = None
    refresh_expires: datetime | None = None

    def good_at(self, t: datetime) -> bool:
        """Usable at `t` without renewing first."""
        return t < self.expires - RENEW_BEFORE

    def refreshable_at(self, t: datetime) -> bool:
        if self.refresh_token is None:
            return False
        return self.refresh_expires is None or t < self.refresh_expires - RENEW_BEFORE


def jwt_exp(token: str) -> datetime | None:
    """The `exp` claim of a JWT, unverified (the signature is Kraken's business), or None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError):
        return None


def refresh_expiry(value: object, now: datetime) -> datetime | None:
    """`refreshExpiresIn` as a time: a Unix time as sent today, or seconds from now as its
    name says, should a supplier ever send that."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value > UNIX_TIME_FROM:
        return datetime.fromtimestamp(value, UTC)
    return now + timedelta(seconds=value)


def token_from(answer: dict[str, object], now: datetime) -> Token | None:
    """The `obtainKrakenToken` answer as a `Token`; None if it holds no token."""
    token = answer.get("token")
    if not isinstance(token, str) or not token:
        return None
    payload = answer.get("payload")
    exp = payload.get("exp") if isinstance(payload, dict) else None
    expires = (
        datetime.fromtimestamp(exp, UTC)
        if isinstance(exp, int) and not isinstance(exp, bool)
        else jwt_exp(token) or now + ASSUMED_LIFETIME
    )
    refresh = answer.get("refreshToken")
    return Token(
        token,
        expires,
        refresh if isinstance(refresh, str) and refresh else None,
        refresh_expiry(answer.get("refreshExpiresIn"), now),
    )
