"""A fake Kraken GraphQL API (Octopus Energy, EON Next), as docs/devices/kraken.md describes it.

It reads the documents it is sent with graphql-core, as a GraphQL server does, and answers
the root fields they ask for with the sub-fields they select: `obtainKrakenToken` (an API key
for Octopus, an email and password for EON Next, or a refresh token), `devices`,
`flexPlannedDispatches`, `plannedDispatches` and `completedDispatches`. Tokens are JWTs that
really end, on the fake's own clock. Dispatch times go out in Europe/London time with their
offset, as Kraken sends them. Like Kraken, it moves a planned dispatch to the completed list
once it ends, and forgets completed ones after 3 days.

Misbehaviour is switched on through `faults`: throttling (KT-CT-1199, HTTP 429, an HTML 403
from the CDN), KT-CT-4340 on flex, any field failing alone, refused refresh tokens. Every
request is counted in `calls`, with the fake's time and what it asked.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiohttp import web
from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    value_from_ast_untyped,
)
from wattbus.models import utcnow

from wattbus_simulator.http_fake import HttpFake

PATH = "/v1/graphql/"
LONDON = ZoneInfo("Europe/London")
TOKEN_LIFETIME = timedelta(hours=1)
REFRESH_LIFETIME = timedelta(days=7)
COMPLETED_KEPT = timedelta(days=3)
DEVICE_ID = "00000000-000a-4000-8000-00000000e001"

Throttle = Literal["KT-CT-1199", "429", "403"]
Operation = Literal["login", "refresh", "query", "refused"]


@dataclass
class FakeDispatch:
    """A dispatch in the fake's plan; times aware. `type`: SMART, BOOST or TEST."""

    start: datetime
    end: datetime
    type: str = "SMART"
    kwh: float | None = 3.5


@dataclass
class FakeAccount:
    number: str
    owner: str  # the login (API key or email) that sees it
    device_id: str = DEVICE_ID
    device_type: str = "ELECTRIC_VEHICLES"
    device_state: str = "SMART_CONTROL_CAPABLE"
    planned: list[FakeDispatch] = field(default_factory=list)
    completed: list[FakeDispatch] = field(default_factory=list)


@dataclass
class Faults:
    throttle: Throttle | None = None  # every request, until cleared
    flex_error: str | None = None  # e.g. KT-CT-4340, on flexPlannedDispatches
    field_errors: dict[str, str] = field(default_factory=dict)  # root field -> its error code
    refuse_refresh: bool = False  # every refresh token is refused (KT-CT-1135)


@dataclass(frozen=True)
class Call:
    at: datetime
    operation: Operation
    fields: tuple[str, ...] = ()


class FakeKraken(HttpFake):
    """The server; `endpoint` is what a client posts to."""

    def __init__(
        self,
        *,
        supplier: Literal["octopus", "eon"] = "octopus",
        clock: Callable[[], datetime] = utcnow,
        token_lifetime: timedelta = TOKEN_LIFETIME,
        refresh_lifetime: timedelta = REFRESH_LIFETIME,
    ) -> None:
        super().__init__()
        self.supplier = supplier
        self.clock = clock
        self.token_lifetime = token_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.faults = Faults()
        self.calls: list[Call] = []
        self.api_keys: dict[str, str] = {}  # key -> owner
        self.passwords: dict[str, str] = {}  # email -> password; the email is the owner
        self.accounts: dict[str, FakeAccount] = {}
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._refresh: dict[str, tuple[str, datetime]] = {}

    @property
    def endpoint(self) -> str:
        return self.url + PATH

    def add_account(
        self,
        number: str,
        *,
        api_key: str | None = None,
        email: str | None = None,
        password: str | None = None,
    ) -> FakeAccount:
        """An account the login given (a key, or an email and password) can see."""
        if api_key is not None:
            self.api_keys[api_key] = owner = f"key:{api_key}"
        else:
            assert email is not None and password is not None
            self.passwords[email] = password
            owner = email
        self.accounts[number] = account = FakeAccount(number, owner)
        return account

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (its refresh token still does)."""
        self._tokens.clear()

    def count(self, operation: Operation | None = None) -> int:
        return sum(1 for c in self.calls if operation is None or c.operation == operation)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(PATH, self._on_post)

    # --- the endpoint --------------------------------------------------------------------------

    async def _on_post(self, request: web.Request) -> web.Response:
        now = self.clock()
        self._settle(now)
        try:
            body = json.loads(await request.text())
            document = parse(body["query"])
            variables = body.get("variables") or {}
            operation = next(
                d for d in document.definitions if isinstance(d, OperationDefinitionNode)
            )
        except (ValueError, KeyError, TypeError, GraphQLError, StopIteration) as err:
            self.calls.append(Call(now, "refused"))
            return _answer({"errors": [{"message": f"Bad request: {err}"}]}, status=400)
        fields = [f for f in operation.selection_set.selections if isinstance(f, FieldNode)]
        names = tuple(f.name.value for f in fields)
        kind: Operation = "query"
        if operation.operation is OperationType.MUTATION:
            given = _arguments(fields[0], variables).get("input") if fields else None
            kind = "refresh" if isinstance(given, dict) and "refreshToken" in given else "login"
        self.calls.append(Call(now, kind, names))
        if (throttled := self._throttled()) is not None:
            return throttled
        if operation.operation is OperationType.MUTATION:
            return self._mutation(fields, variables, now)
        return self._query(fields, variables, request.headers.get("Authorization", ""), now)

    def _throttled(self) -> web.Response | None:
        match self.faults.throttle:
            case "429":
                return web.Response(status=429, text="Too Many Requests")
            case "403":
                html = "<html><body><h1>403 Forbidden</h1>Request blocked.</body></html>"
                return web.Response(status=403, text=html, content_type="text/html")
            case "KT-CT-1199":
                return _answer(_errors("KT-CT-1199", "Too many requests."))
        return None

    def _mutation(
        self, fields: list[FieldNode], variables: dict[str, Any], now: datetime
    ) -> web.Response:
        data: dict[str, Any] = {}
        for f in fields:
            if f.name.value != "obtainKrakenToken":
                return _answer(_errors(None, f"Cannot query field '{f.name.value}'."))
            given = _arguments(f, variables).get("input") or {}
            owner = self._owner_of(given, now)
            if isinstance(owner, web.Response):
                return owner
            data[_key(f)] = _select(self._issue(owner, now), f.selection_set)
        return _answer({"data": data})

    def _owner_of(self, given: dict[str, Any], now: datetime) -> str | web.Response:
        if "refreshToken" in given:
            held = self._refresh.get(str(given["refreshToken"]))
            if self.faults.refuse_refresh or held is None:
                return _answer(_errors("KT-CT-1135", "Invalid refresh token."))
            if held[1] <= now:
                return _answer(_errors("KT-CT-1134", "Refresh token has expired."))
            return held[0]
        if "APIKey" in given:
            key = str(given["APIKey"])
            if self.supplier != "octopus" or key not in self.api_keys:
                return _answer(_errors("KT-CT-1139", "Authentication failed."))
            return self.api_keys[key]
        email, password = given.get("email"), given.get("password")
        if self.passwords.get(str(email)) != password or password is None:
            return _answer(_errors("KT-CT-1138", "Invalid data."))
        return str(email)

    def _issue(self, owner: str, now: datetime) -> dict[str, Any]:
        expires = now + self.token_lifetime
        payload = {"sub": owner, "iat": int(now.timestamp()), "exp": int(expires.timestamp()),
                   "iss": "https://fake.kraken.invalid"}  # fmt: skip
        token = ".".join(_b64(part) for part in (
            json.dumps({"alg": "HS256", "typ": "JWT"}).encode(),
            json.dumps(payload).encode(),
            secrets.token_bytes(16),
        ))  # fmt: skip
        refresh = secrets.token_hex(20)
        refresh_expires = now + self.refresh_lifetime
        self._tokens[token] = (owner, expires)
        self._refresh[refresh] = (owner, refresh_expires)
        return {"token": token, "refreshToken": refresh, "payload": payload,
                # a Unix time, despite its name, as both suppliers send it
                "refreshExpiresIn": int(refresh_expires.timestamp())}  # fmt: skip

    def _query(
        self, fields: list[FieldNode], variables: dict[str, Any], auth: str, now: datetime
    ) -> web.Response:
        scheme, _, token = auth.partition(" ")
        held = self._tokens.get(token) if scheme == "JWT" else None
        if held is None:
            return _answer(_errors("KT-CT-1111", "Unauthorized."))
        owner, expires = held
        if expires <= now:
            return _answer(_errors("KT-CT-1124", "Signature of the JWT has expired."))
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for f in fields:
            key = _key(f)
            try:
                value = self._field(f.name.value, _arguments(f, variables), owner)
            except _FieldError as err:
                data[key] = None
                errors.append(_error(err.code, err.message, key))
                continue
            except KeyError:
                return _answer(_errors(None, f"Cannot query field '{f.name.value}' on 'Query'."))
            data[key] = _select(value, f.selection_set)
        return _answer({"data": data, **({"errors": errors} if errors else {})})

    def _field(self, name: str, args: dict[str, Any], owner: str) -> Any:
        if name in self.faults.field_errors:
            raise _FieldError(self.faults.field_errors[name], f"{name} failed.")
        if name == "flexPlannedDispatches":
            if self.faults.flex_error is not None:
                raise _FieldError(self.faults.flex_error, "Unable to get dispatches.")
            device = args.get("deviceId")
            mine = (a for a in self.accounts.values() if a.owner == owner)
            account = next((a for a in mine if a.device_id == device), None)
            if account is None:
                raise _FieldError("KT-CT-4340", "Unable to get dispatches for this device.")
            return [_flex(d) for d in account.planned]
        if name not in ("devices", "plannedDispatches", "completedDispatches"):
            raise KeyError(name)  # not a field of Query
        account = self.accounts.get(str(args.get("accountNumber")))
        if account is None or account.owner != owner:
            raise _FieldError("KT-CT-1111", "Unauthorized.")
        if name == "devices":
            return [_device(account)]
        if name == "plannedDispatches":
            return [_legacy(d, planned=True) for d in account.planned]
        return [_legacy(d, planned=False) for d in account.completed]

    def _settle(self, now: datetime) -> None:
        """As Kraken does: an ended dispatch leaves the plan for the completed list."""
        for account in self.accounts.values():
            ended = [d for d in account.planned if d.end <= now]
            account.planned = [d for d in account.planned if d.end > now]
            kept = [d for d in account.completed if d.end > now - COMPLETED_KEPT]
            account.completed = kept + ended


class _FieldError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _arguments(f: FieldNode, variables: dict[str, Any]) -> dict[str, Any]:
    return {a.name.value: value_from_ast_untyped(a.value, variables) for a in f.arguments}


def _key(f: FieldNode) -> str:
    return f.alias.value if f.alias else f.name.value


def _select(value: Any, selection: SelectionSetNode | None) -> Any:
    """Only the sub-fields the document asks for, as a GraphQL server answers."""
    if selection is None or value is None:
        return value
    if isinstance(value, list):
        return [_select(v, selection) for v in value]
    picked = {}
    for s in selection.selections:
        if isinstance(s, FieldNode):
            picked[_key(s)] = _select(value.get(s.name.value), s.selection_set)
    return picked


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _local(t: datetime) -> str:
    return t.astimezone(LONDON).isoformat()


def _flex(d: FakeDispatch) -> dict[str, Any]:
    return {"start": _local(d.start), "end": _local(d.end), "type": d.type,
            "energyAddedKwh": d.kwh}  # fmt: skip


def _legacy(d: FakeDispatch, *, planned: bool) -> dict[str, Any]:
    """The older shape: `delta` a decimal in a string, negative in the plan; the type as
    `meta.source`."""
    source = {"SMART": "smart-charge", "BOOST": "bump-charge"}.get(d.type, d.type.lower())
    delta = None if d.kwh is None else f"{-d.kwh if planned else d.kwh:.2f}"
    return {"start": _local(d.start), "end": _local(d.end), "delta": delta,
            "meta": {"source": source, "location": "AT_HOME"}}  # fmt: skip


def _device(a: FakeAccount) -> dict[str, Any]:
    return {"id": a.device_id, "deviceType": a.device_type, "provider": "FAKE",
            "status": {"currentState": a.device_state, "current": "LIVE"}}  # fmt: skip


def _error(code: str | None, message: str, field: str | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"message": message}
    if field is not None:
        e["path"] = [field]
    if code is not None:
        e["extensions"] = {"errorCode": code}
    return e


def _errors(code: str | None, message: str) -> dict[str, Any]:
    return {"errors": [_error(code, message)]}


def _answer(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


async def start_fake_kraken(**options: Any) -> FakeKraken:
    """A running fake on a free loopback port; `options` as for `FakeKraken`."""
    fake = FakeKraken(**options)
    await fake.start()
    return fake
