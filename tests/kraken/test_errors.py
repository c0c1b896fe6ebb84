"""Error classification, from plain answers: slow down, fix the settings, log in again, or
try later. And the token's own times."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from wattbus_kraken.errors import GraphQLError, graphql_errors, http_error, login_error, query_error
from wattbus_kraken.exceptions import (
    AccountNotFoundError,
    AuthFailedError,
    KrakenError,
    ThrottledError,
    TokenRejectedError,
)
from wattbus_kraken.tokens import Token, jwt_exp, refresh_expiry, token_from

NOW = datetime(2026, 6, 10, 9, 5, tzinfo=UTC)


def errors(*items: tuple[str | None, str | None]) -> list[dict[str, object]]:
    """(code, field) pairs as Kraken's `errors`."""
    out = []
    for code, field in items:
        e: dict[str, object] = {"message": "something"}
        if code:
            e["extensions"] = {"errorCode": code}
        if field:
            e["path"] = [field, 0]
        out.append(e)
    return out


def read(*items: tuple[str | None, str | None]) -> list[GraphQLError]:
    return graphql_errors({"errors": errors(*items)})


def test_throttling_is_told_by_code_or_by_the_cdn() -> None:
    assert isinstance(http_error(429, "text/plain", "slow"), ThrottledError)
    assert isinstance(http_error(403, "text/html", "<html>"), ThrottledError)
    assert http_error(403, "application/json", "{}") is None  # Kraken's own: read the body
    assert isinstance(http_error(502, "text/html", "bad gateway"), KrakenError)
    assert http_error(200, "application/json", "{}") is None
    assert isinstance(query_error(read(("KT-CT-1199", None))), ThrottledError)
    assert isinstance(login_error(read(("KT-CT-1199", None))), ThrottledError)


def test_refused_credentials_at_login_are_an_auth_failure_not_throttling() -> None:
    for code in ("KT-CT-1138", "KT-CT-1139", "KT-CT-1111", "KT-CT-1143", "OE-0103"):
        err = login_error(read((code, None)))
        assert isinstance(err, AuthFailedError), code
        assert err.code == "auth_failed" and err.kraken_code == code
    assert type(login_error(read(("KT-CT-9999", None)))) is KrakenError
    assert type(login_error([])) is KrakenError


def test_a_refused_refresh_token_means_log_in_again() -> None:
    for code in ("KT-CT-1134", "KT-CT-1135"):
        assert isinstance(login_error(read((code, None))), TokenRejectedError)


def test_a_field_error_stays_with_its_field_unless_it_spoils_the_query() -> None:
    assert query_error(read(("KT-CT-4340", "flexPlannedDispatches"))) is None
    assert query_error(read((None, "completedDispatches"))) is None
    account = query_error(read(("KT-CT-1111", "devices")))
    assert isinstance(account, AccountNotFoundError) and account.code == "account_not_found"
    assert isinstance(query_error(read(("KT-CT-1124", None))), TokenRejectedError)
    assert type(query_error(read((None, None)))) is KrakenError


def test_odd_error_lists_are_read_without_failing() -> None:
    assert graphql_errors({"errors": "no"}) == []
    assert graphql_errors([1]) == []
    odd = graphql_errors({"errors": [1, {"extensions": "x", "path": [3]}]})
    assert [(e.code, e.field) for e in odd] == [(None, None), (None, None)]


def jwt(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{body}.c2ln"


def test_a_tokens_end_is_its_jwt_exp_or_payload_exp() -> None:
    exp = int((NOW + timedelta(minutes=57)).timestamp())
    assert jwt_exp(jwt({"exp": exp})) == NOW + timedelta(minutes=57)
    assert jwt_exp("not.a.jwt") is None and jwt_exp("opaque") is None
    answer = {"token": "opaque", "payload": {"exp": exp}, "refreshToken": "r",
              "refreshExpiresIn": int((NOW + timedelta(days=7)).timestamp())}  # fmt: skip
    token = token_from(answer, NOW)
    assert token is not None
    assert token.expires == NOW + timedelta(minutes=57)
    assert token.refresh_expires == NOW + timedelta(days=7)
    assumed = token_from({"token": "opaque"}, NOW)
    assert assumed is not None and assumed.expires == NOW + timedelta(hours=1)
    assert token_from({"token": ""}, NOW) is None


def test_refresh_expiry_as_a_unix_time_or_as_seconds() -> None:
    assert refresh_expiry(int((NOW + timedelta(days=7)).timestamp()), NOW) == NOW + timedelta(
        days=7
    )
    assert refresh_expiry(3600, NOW) == NOW + timedelta(hours=1)
    assert refresh_expiry(True, NOW) is None and refresh_expiry("x", NOW) is None


def test_a_token_is_renewed_five_minutes_before_it_ends() -> None:
    token = Token("t", NOW + timedelta(minutes=60), "r", NOW + timedelta(days=1))
    assert token.good_at(NOW + timedelta(minutes=54))
    assert not token.good_at(NOW + timedelta(minutes=55))
    assert token.refreshable_at(NOW + timedelta(hours=23))
    assert not token.refreshable_at(NOW + timedelta(hours=24))
    assert not Token("t", NOW).refreshable_at(NOW)
