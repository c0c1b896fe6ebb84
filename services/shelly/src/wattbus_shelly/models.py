"""The Shelly Pro 3EM's own answers, and the Gen1 3EM's, as each device names them (see
docs/devices/shelly-pro-3em.md).

Unknown keys are ignored, since firmware updates add some. Only what wattbus converts is
required; the rest is optional, because older firmware lacks some keys (e.g. `a_freq`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _DeviceAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class DeviceInfo(_DeviceAnswer):
    """`Shelly.GetDeviceInfo`, also served on `/shelly`; readable without a password."""

    id: str
    mac: str
    model: str
    gen: int
    name: str | None = None
    app: str | None = None
    ver: str | None = None
    fw_id: str | None = None
    profile: str | None = None
    auth_en: bool = False
    auth_domain: str | None = None

    @property
    def realm(self) -> str:
        """The digest realm: the auth domain if set, else the device id."""
        return self.auth_domain or self.id


class EMStatus(_DeviceAnswer):
    """`EM.GetStatus?id=0` in the triphase profile. W, V, A, VA, Hz; current is unsigned."""

    id: int = 0
    a_current: float
    a_voltage: float
    a_act_power: float = Field(description="W, < 0 returned to the grid")
    a_aprt_power: float | None = None
    a_pf: float | None = None
    a_freq: float | None = None
    b_current: float
    b_voltage: float
    b_act_power: float
    b_aprt_power: float | None = None
    b_pf: float | None = None
    b_freq: float | None = None
    c_current: float
    c_voltage: float
    c_act_power: float
    c_aprt_power: float | None = None
    c_pf: float | None = None
    c_freq: float | None = None
    n_current: float | None = None
    total_current: float | None = None
    total_act_power: float
    total_aprt_power: float | None = None
    user_calibrated_phase: list[str] = []
    errors: list[str] = []
    a_errors: list[str] = []
    b_errors: list[str] = []
    c_errors: list[str] = []
    n_errors: list[str] = []


class EMDataStatus(_DeviceAnswer):
    """`EMData.GetStatus?id=0`: energy counters in Wh since the last counter reset."""

    id: int = 0
    a_total_act_energy: float | None = None
    a_total_act_ret_energy: float | None = None
    b_total_act_energy: float | None = None
    b_total_act_ret_energy: float | None = None
    c_total_act_energy: float | None = None
    c_total_act_ret_energy: float | None = None
    total_act: float = Field(description="Wh imported, all phases")
    total_act_ret: float = Field(description="Wh returned to the grid, all phases")
    errors: list[str] = []


# --- Gen1 Shelly 3EM (HTTP REST, `GET /shelly` and `GET /status`) ---------------------------


class Gen1DeviceInfo(_DeviceAnswer):
    """Gen1 `/shelly`, open even with auth on. It has no `gen` key: that is how a Gen1 device
    is told from a Gen2+ one, whose `/shelly` is `DeviceInfo` with `gen` 2 or higher."""

    type: str = Field(description="model code, `SHEM-3` for the 3EM")
    mac: str
    auth: bool = False
    fw: str | None = Field(None, description="e.g. `20230913-114244/v1.14.0-gcb84623`")
    name: str | None = None
    num_emeters: int | None = None

    @property
    def model(self) -> str:
        return self.type

    @property
    def ver(self) -> str | None:
        """The version part of `fw`, after the build date."""
        return self.fw.rpartition("/")[2] if self.fw else None


class Gen1Emeter(_DeviceAnswer):
    """One entry of `/status` `emeters`: W (signed), V, A (unsigned), Wh counters."""

    power: float = Field(description="W, < 0 returned to the grid")
    pf: float | None = None
    current: float
    voltage: float
    is_valid: bool = Field(True, description="false: the device itself distrusts this phase")
    total: float = Field(description="Wh imported on this phase")
    total_returned: float = Field(description="Wh returned on this phase")


class Gen1Status(_DeviceAnswer):
    """Gen1 `/status`, metering part; the real answer has many more keys (wifi, relays, ...).

    `total_power` came with firmware 1.10.5; older firmware sends only the three emeters."""

    emeters: list[Gen1Emeter] = Field(min_length=3, max_length=3)
    total_power: float | None = None


class _Generation(_DeviceAnswer):
    gen: int | None = None


def identify(body: bytes) -> DeviceInfo | Gen1DeviceInfo:
    """A `/shelly` answer as the generation it comes from: `gen` >= 2 is RPC, no `gen` is Gen1.

    Raises pydantic's ValidationError when the body fits neither."""
    gen = _Generation.model_validate_json(body).gen
    if gen is None or gen < 2:
        return Gen1DeviceInfo.model_validate_json(body)
    return DeviceInfo.model_validate_json(body)
