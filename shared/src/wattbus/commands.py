"""Parsing of `set` (a JSON object) and `set/<field>` (a plain value) into a command model.

The `set/<field>` name is always the state field's name, so what a user reads is what a user
writes. Anything that does not validate is refused as a whole with one readable reason, and
nothing a payload holds can raise past `parse_command`: a sender always gets an answer.

Types are strict (the models say so): a JSON `true` is not a number, `"20"` is not a number
either, and `null` sets nothing. A plain value is read as the JSON value it spells, with the
spellings Home Assistant's switches send (`ON`/`OFF`); docs/topics.md has the table.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from wattbus.models import ID_MAX_INT, ID_MAX_LENGTH, Command, CommandId

C = TypeVar("C", bound=Command)

# Commands are a few dozen bytes: anything far longer is not one, and is not parsed at all.
MAX_PAYLOAD = 65_536  # bytes
# digits in a JSON integer: more than any range allows, far fewer than Python's own limit
MAX_DIGITS = 20
# a plain value that reads as a number: JSON's own number syntax, no sign but minus
PLAIN_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
PLAIN_BOOLEANS = {"true": True, "on": True, "false": False, "off": False}  # any case

_ID = TypeAdapter(CommandId)
ID_RULE = (
    f"id must be printable text of 1 to {ID_MAX_LENGTH} characters, "
    f"or an integer from -{ID_MAX_INT} to {ID_MAX_INT}"
)


class CommandError(ValueError):
    """A command that is refused; the message is the reason sent back in the event."""

    def __init__(self, reason: str, command_id: str | int | None = None) -> None:
        super().__init__(reason)
        self.command_id = command_id


def _reason(err: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(x) for x in e['loc']) or 'payload'}: {e['msg']}" for e in err.errors()
    )


def parse_command(model: type[C], set_topic: str, topic: str, payload: bytes) -> C:
    """`topic` is `set_topic` itself (JSON object) or `set_topic/<field>` (plain value)."""
    try:
        return _parse(model, set_topic, topic, payload)
    except CommandError:
        raise
    except Exception as err:  # a payload must never take the answer down with it
        raise CommandError(f"payload cannot be read: {type(err).__name__}") from err


def _parse(model: type[C], set_topic: str, topic: str, payload: bytes) -> C:
    if len(payload) > MAX_PAYLOAD:
        raise CommandError(f"payload is longer than {MAX_PAYLOAD} bytes")
    try:
        text = payload.decode()
    except UnicodeDecodeError as err:
        raise CommandError("payload is not UTF-8 text") from err
    if topic == set_topic:
        data = _json_object(text)
        command_id = _command_id(data)
    else:
        field = topic.removeprefix(set_topic + "/")
        if field == "id" or field not in model.model_fields:
            known = ", ".join(f for f in model.model_fields if f != "id")
            raise CommandError(f"unknown field {field!r}; known: {known}")
        data = {field: _plain_value(text)}
        command_id = None
    nulls = [key for key, value in data.items() if value is None]
    if nulls:
        reason = f"{', '.join(nulls)}: null sets nothing; leave the field out"
        raise CommandError(reason, command_id)
    try:
        command = model.model_validate(data)
    except ValidationError as err:
        as_text = _as_text(model, topic, set_topic, text)
        if as_text is None:
            raise CommandError(_reason(err), command_id) from err
        command = as_text
    if not command.model_fields_set - {"id"}:
        raise CommandError("command sets nothing", command_id)
    return command


def _as_text(model: type[C], topic: str, set_topic: str, text: str) -> C | None:
    """A plain `off` reads as the boolean false, which a mode field refuses; its option `off`
    is what was meant. Tried only after the reading as a value failed, so a boolean field
    still takes `off` as false."""
    if topic == set_topic:
        return None
    try:
        return model.model_validate({topic.removeprefix(set_topic + "/"): text.strip()})
    except ValidationError:
        return None


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text, object_pairs_hook=_no_repeats, parse_int=_integer)
    except json.JSONDecodeError as err:
        raise CommandError(f"payload is not JSON: {err.msg}") from err
    except RecursionError as err:
        raise CommandError("payload is nested too deeply") from err
    except ValueError as err:  # from the two hooks
        raise CommandError(f"payload is refused: {err}") from err
    if not isinstance(data, dict):
        raise CommandError("payload must be a JSON object")
    return data


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise ValueError(f"a number has more than {MAX_DIGITS} digits")
    return int(digits)


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A key given twice would leave which value counts to the parser: refused instead."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"key {key!r} is given twice")
        data[key] = value
    return data


def _command_id(data: dict[str, Any]) -> str | int | None:
    """The id to echo, checked before anything else: a rejection echoes only a valid one."""
    if "id" not in data or data["id"] is None:
        return None
    try:
        return _ID.validate_python(data["id"])
    except ValidationError as err:
        raise CommandError(ID_RULE) from err


def _plain_value(text: str) -> object:
    """The JSON value a plain payload spells: a number, a boolean, a JSON object (for a field
    that maps ids to values), or else the text itself (an enum's option). The model then
    checks its type, as for a JSON `set`."""
    value = text.strip()
    if not value:
        raise CommandError("payload is empty")
    if value.startswith("{"):
        return _json_object(value)
    if value.lower() in PLAIN_BOOLEANS:
        return PLAIN_BOOLEANS[value.lower()]
    if PLAIN_NUMBER.fullmatch(value):
        return float(value)  # too large a number becomes infinity, which the model refuses
    return value
