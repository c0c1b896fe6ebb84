"""Controller settings (env prefix `WATTBUS_CONTROLLER_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from wattbus.models import ControllerMode
from wattbus.settings import ServiceSettings

from wattbus_controller import ev_guard


class ControllerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_CONTROLLER_")

    meter: str = "grid-meter"
    batteries: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["zendure"])
    mode: ControllerMode = ControllerMode.AUTO
    threshold: float = Field(ev_guard.THRESHOLD, ge=0)
    confirm: float = Field(ev_guard.CONFIRM, ge=0)
    release: float = Field(ev_guard.RELEASE, ge=0)
    stale_after: float = Field(ev_guard.STALE_AFTER, gt=0)
    lease: float = Field(90.0, ge=10, description="s a hold lasts unless renewed")
    tick: float = Field(1.0, gt=0, description="s between evaluations without new data")
    state_dir: Path = Path("var")

    @field_validator("batteries", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return [x.strip() for x in v.split(",") if x.strip()]
        return v
