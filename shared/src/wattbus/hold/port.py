"""The battery's side of a hold: what a bridge plugs into `Holder`.

A port speaks for one device. It reads the device, writes settings to it, says how each
setting is described and compared, which settings hold the battery (per route, in order of
preference), and whether a device with no record looks held. Settings are named as on the
bus (`min_soc`, `reserve`, `operation`) in wattbus units; the port converts to the device's.
Everything the hold guarantees (save first, lease, read-back, restore, fallbacks) lives in
`Holder` and `Restore`, once, for every battery.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from pydantic import BaseModel

from wattbus.models import HoldRoute

# A setting's value: a number in wattbus units (%, W), or a text option ("backup").
Value = float | str
# Settings by their wattbus name.
Settings = dict[str, Value]

R = TypeVar("R")  # one reading of the device, as its client parses it
S = TypeVar("S", bound=BaseModel)  # the device's saved settings, as its record stores them


@dataclass(frozen=True)
class SettingSpec:
    """One setting a hold saves and writes, described once."""

    label: str  # the device's own name for it ("minSoc"), in read-back errors and logs
    unit: str = ""  # "%", "W"; "" for a text setting
    tolerance: float = 0.0  # how far a number may read back from what was written


class BatteryPort(Protocol[R, S]):
    """The device's side of a hold. `S` is a frozen pydantic model whose fields are the
    settings named in `specs`, plus whatever else a restore must carry (Zendure: the
    owner's smartMode); the hold stores it as the record's `saved`."""

    @property
    def specs(self) -> Mapping[str, SettingSpec]:
        """Every setting a hold saves, writes and restores, by wattbus name."""
        ...

    @property
    def routes(self) -> Sequence[tuple[HoldRoute, Settings]]:
        """The settings that hold the battery, per route, best first: the hold keeps the
        first whose read-back shows it."""
        ...

    @property
    def saved_model(self) -> type[S]:
        """The model of the record's `saved`, to load a record a previous run left."""
        ...

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """The device package's errors: a release that meets one is owed and retried."""
        ...

    async def read(self) -> R:
        """One reading of the device, fresh."""
        ...

    async def write(self, settings: Settings, restoring: S | None) -> None:
        """Write `settings` in one request where the device allows. `restoring` is the saved
        record when this puts the owner's settings back (the port may write what else it
        saved along with them); None for a hold, a re-hold or an owner's change. Raise an
        error derived from `RefusedError` for a write the device refused."""
        ...

    def value(self, reading: R, name: str) -> Value | None:
        """The setting's value in `reading`, in wattbus units; None if not reported."""
        ...

    def save(self, reading: R) -> S:
        """What `reading` says the owner has, to be restored later. Raise the device's
        error if it lacks a setting: a hold must not start without a full record."""
        ...

    def looks_held(self, reading: R, route: HoldRoute) -> bool:
        """With no record: does `reading` look like a hold by `route` that was left behind
        (a lost file)? A value the owner could have chosen is not a sign."""
        ...

    def unrestored(self, reading: R, saved: S) -> str | None:
        """Why `reading` does not show what a restore carries besides the settings (None
        when it does, or there is nothing such): the settings written with it then count
        as not restored."""
        ...

    def refuses(self, reading: R, name: str, value: Value) -> str | None:
        """Why the device, as `reading` shows it, would refuse `value` for `name` (outside
        the range it takes), or None: it takes it, or the bridge cannot know. A fallback it
        would refuse is not written; the stand-in goes in its place."""
        ...

    def stand_in(self, reading: R, name: str) -> Value | None:
        """A value the device, as `reading` shows it, always takes for `name`, to end a
        restore it keeps refusing when no fallback is configured or the fallback is refused;
        None if there is none."""
        ...


def settings_of(saved: BaseModel, specs: Mapping[str, SettingSpec]) -> Settings:
    """The settings in a saved record, without what else it carries."""
    values: Settings = {name: getattr(saved, name) for name in specs}
    return values


def shows(spec: SettingSpec, actual: Value | None, written: Value) -> bool:
    """Whether a read-back shows what was written: a number within the tolerance, a text
    option exactly."""
    if isinstance(written, str) or isinstance(actual, str):
        return actual == written
    return actual is not None and math.isclose(actual, written, abs_tol=spec.tolerance)


def describe(settings: Mapping[str, Value | None], specs: Mapping[str, SettingSpec]) -> str:
    """Settings as events and logs say them: `min_soc 15 %, operation backup`."""
    return ", ".join(phrase(name, value, specs[name].unit) for name, value in settings.items())


def as_read(value: Value | None, unit: str) -> str:
    """A value as the device reported it, unrounded: `15.0 %`."""
    return f"{value} {unit}" if unit else f"{value}"


def phrase(name: str, value: Value | None, unit: str) -> str:
    """One setting, rounded as people read it: `min_soc 15 %`, `outputLimit 0 W`."""
    if value is None:
        return f"{name} ?"
    text = value if isinstance(value, str) else f"{value:g}"
    return f"{name} {text} {unit}" if unit else f"{name} {text}"
