"""Calendar invites for dispatch holds: what to send, from the dispatch hold as it stands after
an evaluation, the tariff's windows and `now`. Pure, like the policies: the shell persists the
book with the controller's memory and hands the actions to the mail sender.

An invite is sent once charging is confirmed (the dispatch hold begins), never for a planned
window alone: future windows move too often, and the owner's calendar would fill with ones that
never ran. It spans the hold's window, from the start of the window that began it to the slot
boundary the hold runs to. While the hold runs, the invite follows the window: a later end (the
window moved, or an extension slot by slot) or an earlier one the supplier planned is an update
(same UID, SEQUENCE + 1). A hold that is only winding down (the car stopped, the list went
quiet or empty) is not told at once: a car that resumes or a list that comes back would undo it.
When the hold ends the invite is trimmed to the boundary it really ran to, or, if the supplier
no longer lists its window and it ended early, cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict
from wattbus.models import DispatchKind, DispatchWindow, TariffState

from wattbus_controller.dispatch import SMART_IN_PROGRESS, DispatchMemory, slot_end

KEEP = timedelta(days=2)  # an ended invite is remembered this long, so a hold that resumes in
# its window updates it rather than sending a second invite with the same UID


class Status(StrEnum):
    HELD = "held"  # the hold runs: the invite follows it
    ENDED = "ended"  # the hold ended; the invite says where
    CANCELLED = "cancelled"  # the supplier withdrew the window before it ran its course


EnergyFrom = Literal["supplier", "charger"]


class Invite(BaseModel):
    """One window's invite as last sent (`end`), and where its hold runs to now (`held_to`)."""

    model_config = ConfigDict(frozen=True)

    uid: str
    sequence: int
    start: datetime
    end: datetime
    held_to: datetime
    status: Status
    energy: float | None = None  # Wh; None: no figure to give (never guessed)
    energy_from: EnergyFrom | None = None
    power: float | None = None  # W the charger drew when the figure was made from it


Book = dict[str, Invite]  # by UID; persisted in controller.json


@dataclass(frozen=True)
class Action:
    kind: Literal["send", "update", "trim", "cancel"]
    invite: Invite


def uid_of(tariff: str, start: datetime) -> str:
    """Stable for a window: its tariff and the start of the window that began the hold."""
    return f"{tariff}-{start:%Y%m%dT%H%M%SZ}@wattbus"


def plan(
    tariff_id: str,
    hold: DispatchMemory,
    tariff: TariffState | None,
    charger_power: float | None,
    book: Book,
    now: datetime,
) -> tuple[Book, list[Action]]:
    """`tariff`: None when it cannot be trusted (offline, stale), so a withdrawal is never read
    into its silence. `charger_power`: W the car draws now, None when unknown."""
    new = {uid: i for uid, i in book.items() if i.status is Status.HELD or now - i.end < KEEP}
    actions: list[Action] = []
    current = None
    if hold.until is not None and hold.start is not None:
        current = uid_of(tariff_id, hold.start)
    for uid, invite in book.items():
        if invite.status is Status.HELD and uid != current:
            new[uid], action = _close(invite, tariff, now)
            actions += action
    if current is not None:
        assert hold.start is not None and hold.until is not None
        window = _running(tariff, now)
        new[current], action = _follow(
            new.get(current), current, hold.start, hold.until, window, charger_power
        )
        actions += action
    return new, actions


def _running(tariff: TariffState | None, now: datetime) -> DispatchWindow | None:
    """The listed smart window running now: the one the hold is for."""
    if tariff is None:
        return None
    return next(
        (w for w in tariff.windows if w.kind is DispatchKind.SMART and w.start <= now < w.end),
        None,
    )


def _follow(
    invite: Invite | None,
    uid: str,
    start: datetime,
    until: datetime,
    window: DispatchWindow | None,
    power: float | None,
) -> tuple[Invite, list[Action]]:
    if invite is None:
        e = _figure(start, until, window, power)
        sent = Invite(uid=uid, sequence=0, start=start, end=until, held_to=until,
                      status=Status.HELD, energy=e.energy, energy_from=e.energy_from,
                      power=e.power)  # fmt: skip
        return sent, [Action("send", sent)]
    if invite.status is not Status.HELD:  # the hold began again in the same window
        return _changed(invite, until, window, power, Status.HELD, "update")
    # an earlier end counts only when the supplier planned it; else the hold is winding down
    planned = window is not None and window.end <= until
    if until > invite.end or (until < invite.end and planned):
        return _changed(invite, until, window, power, Status.HELD, "update")
    return invite.model_copy(update={"held_to": until}), []


def _close(
    invite: Invite, tariff: TariffState | None, now: datetime
) -> tuple[Invite, list[Action]]:
    """The hold ended by `now`, just before a slot boundary: at the end of this slot, unless
    it was already to end sooner (a hold that ended while the controller was down). The end
    may have come in this very evaluation, so `held_to` may not have seen it."""
    ended = min(invite.held_to, slot_end(now))
    if ended < invite.end and _withdrawn(invite, tariff):
        cancelled = invite.model_copy(
            update={"sequence": invite.sequence + 1, "status": Status.CANCELLED}
        )
        return cancelled, [Action("cancel", cancelled)]
    if ended != invite.end:
        return _changed(invite, ended, None, None, Status.ENDED, "trim")
    return invite.model_copy(update={"status": Status.ENDED}), []


def _withdrawn(invite: Invite, tariff: TariffState | None) -> bool:
    """The supplier's own list, read without error, no longer has a smart window in the
    invite's span, and its device does not report a smart charge either."""
    if tariff is None or tariff.source is None or tariff.device_state == SMART_IN_PROGRESS:
        return False
    return not any(
        w.kind is DispatchKind.SMART and w.start < invite.end and w.end > invite.start
        for w in tariff.windows
    )


def _changed(
    invite: Invite,
    end: datetime,
    window: DispatchWindow | None,
    power: float | None,
    status: Status,
    kind: Literal["update", "trim"],
) -> tuple[Invite, list[Action]]:
    """The invite with a new end and SEQUENCE + 1, its energy figure made anew when there is
    something to make it from: a figure from the charger's power is rescaled to the new span
    (the car that stopped draws nothing now), the supplier's stays as it gave it."""
    figure = _figure(invite.start, end, window, power)
    if figure.energy is None:
        same = Figure(invite.energy, invite.energy_from, invite.power)
        figure = _figure(invite.start, end, None, invite.power) if invite.power else same
    update = {"sequence": invite.sequence + 1, "end": end, "held_to": end, "status": status}
    changed = invite.model_copy(update=update | figure._asdict())
    return changed, [Action(kind, changed)]


class Figure(NamedTuple):
    energy: float | None
    energy_from: EnergyFrom | None
    power: float | None


def _figure(
    start: datetime, end: datetime, window: DispatchWindow | None, power: float | None
) -> Figure:
    """The supplier's figure when it gives one; else what the charger draws now over the
    span; else none."""
    if window is not None and window.energy is not None:
        return Figure(window.energy, "supplier", None)
    if power is not None and power > 0:
        return Figure(power * (end - start).total_seconds() / 3600, "charger", power)
    return Figure(None, None, None)
