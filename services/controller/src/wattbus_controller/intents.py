"""What a policy wants of a device, and why: the common language between the policies and the
arbiter. A policy never sends anything; it says what it wants, and the arbiter decides."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class Intent:
    """`hold` True: keep this battery from discharging. False: make sure it is not held,
    whoever placed the hold (the EV guard in `auto` owns every battery hold it sees). A
    policy with nothing to say about a battery gives no intent for it."""

    policy: str
    battery: str
    hold: bool
    reason: str


class PolicyView(BaseModel):
    """For the controller's state: what one policy wants, per battery, and why."""

    model_config = ConfigDict(frozen=True)

    wants: dict[str, bool]  # battery -> hold; a battery left out: no opinion
    reason: str


def view(reason: str, intents: list[Intent]) -> PolicyView:
    return PolicyView(wants={i.battery: i.hold for i in intents}, reason=reason)
