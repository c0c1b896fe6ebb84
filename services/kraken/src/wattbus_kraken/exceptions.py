"""What can go wrong with Kraken, in the groups the bridge handles differently: slow down,
fix the settings, or try again later.

Library errors (httpx, JSON, pydantic) are turned into these in one place,
`KrakenClient._post`, so the bridge catches `KrakenError` and nothing else. Each carries the
stable `code` of the `error` event the bridge sends for it (docs/topics.md).
"""

from __future__ import annotations


class KrakenError(Exception):
    """Base of every error this package raises."""

    code = "api_error"

    def __init__(self, message: str, *, kraken_code: str | None = None) -> None:
        super().__init__(message)
        self.kraken_code = kraken_code  # Kraken's own (`KT-CT-1199`), when it sent one


class KrakenConnectionError(KrakenError):
    """The API could not be reached, or did not answer in time: worth retrying later."""

    code = "unreachable"


class ThrottledError(KrakenError):
    """Kraken (KT-CT-1199) or its CDN (HTTP 429, an HTML 403) says slow down. The token is
    still good: only the schedule backs off."""

    code = "throttled"


class AuthFailedError(KrakenError):
    """The API key, or the email and password, were refused. Retrying will not help until the
    settings change, so the bridge retries only slowly."""

    code = "auth_failed"


class AccountNotFoundError(KrakenError):
    """The login works, but the account number is not one of its accounts."""

    code = "account_not_found"


class TokenRejectedError(KrakenError):
    """The token or the refresh token was refused (expired, or revoked): log in again."""

    code = "token_rejected"
