"""Parsing of `set` (a JSON object) and `set/<field>` (a plain value) into a command model.

The `set/<field>` name is always the state field's name, so what a user reads is what a user
writes. Anything that does not validate is refused as a whole with one readable reason.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import ValidationError

from wattbus.models import Command

C = TypeVar("C", bound=Command)


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
        text = payload.decode()
    except UnicodeDecodeError as err:
        raise CommandError("payload is not UTF-8 text") from err
    if topic == set_topic:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise CommandError(f"payload is not JSON: {err.msg}") from err
        if not isinstance(data, dict):
            raise CommandError("payload must be a JSON object")
        command_id = data.get("id") if isinstance(data.get("id"), str | int) else None
    else:
        field = topic.removeprefix(set_topic + "/")
        if field == "id" or field not in model.model_fields:
            known = ", ".join(f for f in model.model_fields if f != "id")
            raise CommandError(f"unknown field {field!r}; known: {known}")
        data = {field: text.strip()}
        command_id = None
    try:
        command = model.model_validate(data)
    except ValidationError as err:
        raise CommandError(_reason(err), command_id) from err
    if not command.model_fields_set - {"id"}:
        raise CommandError("command sets nothing", command_id)
    return command
