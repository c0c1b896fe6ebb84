"""Kraken's GraphQL API (Octopus Energy, EON Next) over HTTPS: `POST` a document, get
`data` and `errors` back.

One `httpx.AsyncClient`, kept alive between polls. Every request is counted through
`on_request` before it is sent, logins and refreshes too: the schedule's budget is in
requests, not in polls. The token is renewed with the refresh token shortly before it ends,
and when the refresh token is refused, the client logs in again from the key or password.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from wattbus.closing import AsyncClosing

from wattbus_kraken.documents import EON_TOKEN, OCTOPUS_TOKEN, dispatches_query
from wattbus_kraken.errors import (
    GraphQLError,
    graphql_errors,
    http_error,
    login_error,
    query_error,
)
from wattbus_kraken.exceptions import KrakenConnectionError, KrakenError, TokenRejectedError
from wattbus_kraken.tokens import Token, token_from

log = logging.getLogger(__name__)

OCTOPUS_URL = "https://api.octopus.energy/v1/graphql/"
EON_URL = "https://api.eonnext-kraken.energy/v1/graphql/"
REQUEST_TIMEOUT = 10.0  # s; schedule.SPAN leaves room for three in a row


@dataclass(frozen=True)
class ApiKey:
    """Octopus: the API key from the account's developer settings."""

    key: str = field(repr=False)


@dataclass(frozen=True)
class EmailLogin:
    """EON Next: the web login's email and password."""

    email: str
    password: str = field(repr=False)


Credentials = ApiKey | EmailLogin


@dataclass(frozen=True)
class Answer:
    """A query's data per root field, and the errors that belong to single fields."""

    data: dict[str, Any]
    errors: dict[str, GraphQLError]


class KrakenClient(AsyncClosing):
    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        clock: Callable[[], datetime],
        on_request: Callable[[datetime], None] | None = None,
        timeout: float = REQUEST_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.token: Token | None = None
        self._clock = clock
        self._on_request = on_request
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, trust_env=False)

    async def close(self) -> None:
        await self._http.aclose()

    def token_requests(self, t: datetime) -> int:
        """Requests needed at `t` before a query can be sent: 0 with a good token, else 1
        (a refresh, or a login), which a refused refresh makes 2."""
        return 0 if self.token is not None and self.token.good_at(t) else 1

    async def authorise(self) -> str:
        """A token good for now: the one held, a refreshed one, or a new login."""
        now = self._clock()
        token = self.token
        if token is not None and token.good_at(now):
            return token.token
        if token is not None and token.refreshable_at(now):
            try:
                self.token = await self.refresh(token)
                return self.token.token
            except TokenRejectedError as err:
                log.info("refresh token refused (%s): logging in again", err)
        self.token = None
        self.token = await self.login()
        return self.token.token

    async def login(self) -> Token:
        if isinstance(self.credentials, ApiKey):
            return await self._obtain({"APIKey": self.credentials.key})
        return await self._obtain(
            {"email": self.credentials.email, "password": self.credentials.password}
        )

    async def refresh(self, token: Token) -> Token:
        return await self._obtain({"refreshToken": token.refresh_token})

    async def _obtain(self, given: dict[str, Any]) -> Token:
        document = OCTOPUS_TOKEN if isinstance(self.credentials, ApiKey) else EON_TOKEN
        body = await self._post(document, {"input": given}, token=None)
        data = body.get("data")
        answer = data.get("obtainKrakenToken") if isinstance(data, dict) else None
        token = token_from(answer, self._clock()) if isinstance(answer, dict) else None
        if token is None:
            raise login_error(graphql_errors(body))
        return token

    async def query(self, fields: Sequence[str], variables: dict[str, str]) -> Answer:
        """One document asking for `fields`; errors that spoil all of it are raised, the
        others stay with their fields. A refused token is dropped: the next query logs in."""
        token = await self.authorise()
        body = await self._post(dispatches_query(fields), variables, token=token)
        errors = graphql_errors(body)
        if (err := query_error(errors)) is not None:
            if isinstance(err, TokenRejectedError):
                self.token = None
            raise err
        data = body.get("data")
        if not isinstance(data, dict):
            raise KrakenError("answer without data")
        return Answer(data, {e.field: e for e in errors if e.field is not None})

    async def _post(
        self, document: str, variables: dict[str, Any], *, token: str | None
    ) -> dict[str, Any]:
        """The one place where httpx and JSON errors become this package's errors."""
        headers = {"Authorization": f"JWT {token}"} if token else {}
        if self._on_request is not None:
            self._on_request(self._clock())
        try:
            response = await self._http.post(
                self.url, json={"query": document, "variables": variables}, headers=headers
            )
        except httpx.TimeoutException as err:
            raise KrakenConnectionError(f"{self.url} did not answer in time") from err
        except httpx.TransportError as err:
            raise KrakenConnectionError(f"{self.url}: {err!r}") from err
        except httpx.HTTPError as err:
            raise KrakenError(f"{self.url}: {err!r}") from err
        content_type = response.headers.get("content-type", "")
        if (failed := http_error(response.status_code, content_type, response.text)) is not None:
            raise failed
        try:
            body = response.json()
        except ValueError as err:
            raise KrakenError(f"HTTP {response.status_code}: not JSON") from err
        if not isinstance(body, dict):
            raise KrakenError(f"HTTP {response.status_code}: not a GraphQL answer")
        return body
