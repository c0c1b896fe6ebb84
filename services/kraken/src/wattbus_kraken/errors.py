"""Which `KrakenError` an answer is: pure functions of the HTTP status, the body and the
GraphQL `errors`, so that each case is tested with plain values.

Kraken answers most errors with HTTP 200 and a GraphQL `errors` list whose
`extensions.errorCode` names the case (`KT-CT-1199`). An error with a `path` belongs to that
field alone: the other fields of the same document still carry their data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wattbus_kraken.exceptions import (
    AccountNotFoundError,
    AuthFailedError,
    KrakenError,
    ThrottledError,
    TokenRejectedError,
)

THROTTLED = frozenset({"KT-CT-1199"})
# refused credentials at login (BottlecapDave's and savagelands' lists)
BAD_CREDENTIALS = frozenset({"KT-CT-1138", "KT-CT-1139", "KT-CT-1111", "KT-CT-1143", "OE-0103"})
REFRESH_REJECTED = frozenset({"KT-CT-1134", "KT-CT-1135"})  # expired or revoked refresh token
# on a query, any of these means the token itself is no good: log in again
TOKEN_REJECTED = BAD_CREDENTIALS | REFRESH_REJECTED | {"KT-CT-1124"}  # 1124: the JWT expired
# an account-scoped field refused: the account number is not this login's. Which code Kraken
# sends for an unknown number is not documented; these two ("Unauthorized", "not found") are
# the codes seen for it.
ACCOUNT_REFUSED = frozenset({"KT-CT-1111", "KT-CT-4123"})
ACCOUNT_FIELDS = frozenset({"devices", "plannedDispatches", "completedDispatches"})


@dataclass(frozen=True)
class GraphQLError:
    message: str
    code: str | None = None
    field: str | None = None  # the root field it belongs to, from `path`

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


def graphql_errors(body: Any) -> list[GraphQLError]:
    """The `errors` of a GraphQL answer, read tolerantly: anything odd is kept as a message."""
    raw = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(raw, list):
        return []
    found = []
    for e in raw:
        if not isinstance(e, dict):
            found.append(GraphQLError(str(e)[:200]))
            continue
        extensions = e.get("extensions")
        code = extensions.get("errorCode") if isinstance(extensions, dict) else None
        path = e.get("path")
        field = path[0] if isinstance(path, list) and path and isinstance(path[0], str) else None
        message = str(e.get("message", "no message"))[:200]
        found.append(GraphQLError(message, code if isinstance(code, str) else None, field))
    return found


def http_error(status: int, content_type: str, text: str) -> KrakenError | None:
    """An answer that is an error by its status alone; None to read its body."""
    json_body = "json" in content_type.lower()
    if status == 429:
        return ThrottledError("HTTP 429: too many requests")
    if status == 403 and not json_body:
        # the CDN's own page, not Kraken's: savagelands and others treat it as rate limiting
        return ThrottledError("HTTP 403 from the CDN (not JSON): rate limited")
    if status >= 500:
        return KrakenError(f"HTTP {status}: {text[:100]!r}")
    if not json_body and status != 200:
        return KrakenError(f"HTTP {status}: {text[:100]!r}")
    return None


def login_error(errors: list[GraphQLError]) -> KrakenError:
    """Why a login or a token refresh failed."""
    codes = {e.code for e in errors}
    text = "; ".join(str(e) for e in errors) or "no token in the answer"
    first = next(iter(sorted(c for c in codes if c)), None)
    if codes & THROTTLED:
        return ThrottledError(f"login throttled: {text}", kraken_code="KT-CT-1199")
    if codes & REFRESH_REJECTED:
        return TokenRejectedError(f"refresh token refused: {text}", kraken_code=first)
    if codes & BAD_CREDENTIALS:
        return AuthFailedError(f"login refused: {text}", kraken_code=first)
    return KrakenError(f"login failed: {text}", kraken_code=first)


def query_error(errors: list[GraphQLError]) -> KrakenError | None:
    """The error that spoils a whole query, or None when each error stays with its field."""
    for e in errors:
        if e.code in THROTTLED:
            return ThrottledError(f"throttled: {e}", kraken_code=e.code)
    for e in errors:
        if e.field in ACCOUNT_FIELDS and e.code in ACCOUNT_REFUSED:
            return AccountNotFoundError(f"account refused: {e}", kraken_code=e.code)
    for e in errors:
        if e.code in TOKEN_REJECTED:
            return TokenRejectedError(f"token refused: {e}", kraken_code=e.code)
    for e in errors:
        if e.field is None:
            return KrakenError(f"query failed: {e}", kraken_code=e.code)
    return None
