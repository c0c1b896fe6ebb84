"""Controller settings (env prefix `WATTBUS_CONTROLLER_`). The EV detection values take the
same ranges as on `wattbus/controller/set`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from wattbus.models import Confirm, ControllerMode, Lease, Release, Threshold
from wattbus.settings import DeviceId, ServiceSettings, field_error

from wattbus_controller import ev_guard


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

    @field_validator("batteries", mode="before")
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
        return self
