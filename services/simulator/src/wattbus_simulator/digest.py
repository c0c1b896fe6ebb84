"""The server's side of HTTP digest authentication (RFC 7616) that the fake devices share:
reading the client's `Authorization` header. Each fake computes its own hash (Shelly SHA-256,
myenergi MD5), as its device does."""

from __future__ import annotations

import re

_FIELD = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]*))')


def parse_digest(header: str) -> dict[str, str] | None:
    """The header's fields by lower-case name; None when it is not a digest answer."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "digest":
        return None
    return {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _FIELD.finditer(rest)}
