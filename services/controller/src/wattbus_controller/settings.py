"""Controller settings (env prefix `WATTBUS_CONTROLLER_`). The EV detection values take the
same ranges as on `wattbus/controller/set`."""

from __future__ import annotations

import json
import re
from datetime import time
from pathlib import Path
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from wattbus.models import Confirm, ControllerMode, Lease, Release, Threshold
from wattbus.settings import DeviceId, ServiceSettings, field_error

from wattbus_controller import dispatch, ev_guard


def _hours(v: object) -> object:
    """`00:00-06:00`, as a tariff states its fixed cheap-rate hours."""
    if not isinstance(v, str):
        return v
    found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", v)
    if found is None:
        raise ValueError("should be HH:MM-HH:MM, like 00:00-06:00")
    h1, m1, h2, m2 = (int(x) for x in found.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError("should be HH:MM-HH:MM, like 00:00-06:00")
    return (time(h1, m1), time(h2, m2))


CheapHours = Annotated[tuple[time, time], NoDecode, BeforeValidator(_hours)]


class ControllerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_CONTROLLER_")

    meter: DeviceId = "grid-meter"
    batteries: Annotated[list[DeviceId], NoDecode] = Field(
        default_factory=lambda: ["zendure"], description="comma-separated, or a JSON list"
    )
    charger: DeviceId | None = Field(
        None, description="the charger whose own state detects a session; none: the threshold"
    )
    mode: ControllerMode = ControllerMode.AUTO
    threshold: Threshold = ev_guard.THRESHOLD
    confirm: Confirm = ev_guard.CONFIRM
    release: Release = ev_guard.RELEASE
    # s: a reading older than a second is "stale" only by accident; an hour-old one is no news
    stale_after: float = Field(ev_guard.STALE_AFTER, ge=1, le=3600)
    lease: Lease = Field(90.0, description="s a hold lasts unless renewed")
    # s between evaluations without new data: far below 0.1 s the controller only spins
    tick: float = Field(1.0, ge=0.1, le=60)
    state_dir: Path = Path("var")
    # smart-tariff dispatch: on when a tariff bridge is named
    tariff: DeviceId | None = Field(
        None, description="the tariff bridge whose dispatch windows hold batteries; none: off"
    )
    dispatch_batteries: Annotated[list[DeviceId], NoDecode] | None = Field(
        None, description="the batteries a dispatch holds; none: all of them"
    )
    cheap_hours: CheapHours = (
        dispatch.DispatchSettings.cheap_start,
        dispatch.DispatchSettings.cheap_end,
    )
    timezone: ZoneInfo = Field(dispatch.LONDON, description="of the cheap-rate hours")
    # s before a slot boundary a dispatch hold ends; more than 15 minutes would end it mid-slot
    dispatch_release_lead: float = Field(dispatch.RELEASE_LEAD, ge=0, le=900)
    tariff_stale_after: float = Field(dispatch.STALE_AFTER, ge=300, le=86_400)

    @field_validator("batteries", "dispatch_batteries", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        """`a,b` as compose files write it, or `["a","b"]` as JSON; the ids are checked after."""
        if not isinstance(v, str):
            return v
        if v.lstrip().startswith("["):
            try:
                return json.loads(v)
            except ValueError as err:
                raise ValueError(f"is not a JSON list: {err}") from err
        return [x.strip() for x in v.split(",") if x.strip()]

    @model_validator(mode="after")
    def _roles_are_distinct(self) -> Self:
        if not self.batteries:
            raise field_error("ControllerSettings", "batteries", "should name at least one battery")
        repeated = sorted({b for b in self.batteries if self.batteries.count(b) > 1})
        if repeated:
            raise field_error("ControllerSettings", "batteries", f"names {repeated[0]} twice")
        if self.meter in self.batteries:
            message = f"names {self.meter}, which is the meter (WATTBUS_CONTROLLER_METER)"
            raise field_error("ControllerSettings", "batteries", message)
        if self.charger == self.meter:
            message = f"names {self.meter}, which is the meter (WATTBUS_CONTROLLER_METER)"
            raise field_error("ControllerSettings", "charger", message)
        if self.charger in self.batteries:
            message = f"names {self.charger}, a battery (WATTBUS_CONTROLLER_BATTERIES)"
            raise field_error("ControllerSettings", "charger", message)
        if self.tariff is not None and self.tariff in {self.meter, self.charger, *self.batteries}:
            message = f"names {self.tariff}, which already has another role"
            raise field_error("ControllerSettings", "tariff", message)
        stray = sorted(set(self.dispatch_batteries or ()) - set(self.batteries))
        if stray:
            message = f"names {stray[0]}, not one of WATTBUS_CONTROLLER_BATTERIES"
            raise field_error("ControllerSettings", "dispatch_batteries", message)
        return self
