"""What can go wrong when talking to a Powerwall, in the groups a caller handles differently.

pypowerwall answers most failures with `None` and a log line, and raises assorted errors
(its own, requests', the builtin `ConnectionError`) for the rest; `Gateway` turns all of them
into these, so that a bridge catches `PowerwallError` and nothing else. The kinds the shared
hold must tell apart (`wattbus.hold`) derive from its classes too: an answer that is not what
was asked, a refused write, a write that never read back.
"""

from __future__ import annotations

from wattbus.hold import DeviceAnswerError, RefusedError
from wattbus.hold import NotAppliedError as HoldNotAppliedError


class PowerwallError(Exception):
    """Base of every error this package raises."""


class GatewayConnectionError(PowerwallError):
    """The gateway (or Tesla's cloud) did not answer, or answered nothing usable: worth
    retrying later."""


class InvalidAuthError(PowerwallError):
    """The gateway refused the login (a wrong customer password), or the cloud tokens are
    missing or rejected. Retrying will not help until the owner fixes it."""


class GatewayResponseError(PowerwallError, DeviceAnswerError):
    """The gateway answered, but not with the JSON its API returns."""


class WriteRefusedError(PowerwallError, RefusedError):
    """The gateway refused a write and applied none of it: a local gateway answers a
    customer login's `POST /api/operation` with 403. It was reached; the message says which
    route can write."""


class NotAppliedError(PowerwallError, HoldNotAppliedError):
    """A write was answered, but reading it back shows other values, after every retry.
    Tesla applies reserve and mode as two commands and can drop either one."""
