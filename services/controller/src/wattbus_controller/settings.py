"""Controller settings (env prefix `WATTBUS_CONTROLLER_`). The EV detection values take the
same ranges as on `wattbus/controller/set`. Dispatch invites are on when an SMTP host is named;
the rest of their settings are checked only then, so a home without mail names none of them."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import time
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import NoDecode, SettingsConfigDict
from wattbus.models import (
    ChargingStrategy,
    Confirm,
    ControllerMode,
    JsonNumber,
    Lease,
    Release,
    Threshold,
)
from wattbus.settings import DeviceId, Host, Port, ServiceSettings, field_error

from wattbus_controller import charging, dispatch, ev_guard
from wattbus_controller import phases as phase_rules
from wattbus_controller import plugs as plug_policy


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


def _windows(v: object) -> object:
    """`10:00-16:00,18:00-19:00`: the hours a plug may run; empty: any."""
    if not isinstance(v, str):
        return v
    return tuple(_hours(part) for part in v.split(",") if part.strip())


def _clock_time(v: object) -> object:
    if not isinstance(v, str):
        return v
    found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", v)
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        raise ValueError("should be HH:MM, like 09:30")
    return time(int(found[1]), int(found[2]))


Windows = Annotated[tuple[tuple[time, time], ...], NoDecode, BeforeValidator(_windows)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]


# one address, as a mail header carries it: no display name, no spaces, one @ with a dot after
ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+")


def _address(v: str) -> str:
    if not ADDRESS.fullmatch(v):
        raise ValueError(f"{v!r} is not a mail address (name@example.org)")
    return v


Address = Annotated[str, AfterValidator(_address)]
Security = Literal["starttls", "tls", "none"]
SMTP_PORTS: dict[Security, int] = {"starttls": 587, "tls": 465, "none": 25}  # each one's own
Rate = Annotated[float, Field(ge=0, le=100)]  # per kWh: 100 a kWh is a typo, not a tariff
ChargerKind = Literal["nrgkick", "smartevse", "zappi"]  # how a tracked charger is told
KINDS: tuple[ChargerKind, ...] = ("nrgkick", "smartevse", "zappi")
# the kinds whose phases wattbus switches (drives.py). Any other on `auto` keeps three: a current
# worked out for the one phase `auto` picked, sent to a charger on three, is three times the power
SWITCHING: tuple[ChargerKind, ...] = ("nrgkick",)
FOLLOWS_SUN: tuple[ChargerKind, ...] = ("zappi",)  # told a mode, never a current (drives.py)
Amps = Annotated[float, Field(ge=1, le=80)]
Seconds = Annotated[float, Field(ge=0, le=3600)]
Watts = Annotated[float, Field(ge=0, le=100_000)]


class PlugRule(BaseModel):
    """One plug's own values where they differ from the shared `PLUG_*` ones (a 2 kW heating
    rod and a 300 W dehumidifier do not start at the same surplus)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_above: Annotated[Watts, JsonNumber] | None = None
    off_below: Annotated[Watts, JsonNumber] | None = None
    min_soc: Annotated[float, Field(ge=0, le=100), JsonNumber] | None = None
    windows: Annotated[tuple[tuple[time, time], ...], BeforeValidator(_windows)] | None = None
    start: ClockTime | None = None
    min_on: Annotated[Seconds, JsonNumber] | None = None
    min_off: Annotated[Seconds, JsonNumber] | None = None


def _tracked(v: object) -> object:
    """`nrgkick`, or `garage:nrgkick` for a charger whose id is not its kind, comma-separated."""
    if not isinstance(v, str):
        return v
    found: dict[str, str] = {}
    for item in (x.strip() for x in v.split(",") if x.strip()):
        cid, _, kind = item.partition(":")
        found[cid.strip()] = (kind or cid).strip()
    return found


def _phase_choice(v: object) -> object:
    if isinstance(v, str) and v.strip().isdigit():
        return int(v)
    return v


class ControllerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_CONTROLLER_")

    meter: DeviceId = "grid-meter"
    batteries: Annotated[list[DeviceId], NoDecode] = Field(
        default_factory=lambda: ["zendure"], description="comma-separated, or a JSON list"
    )
    guard_batteries: Annotated[list[DeviceId], NoDecode] | None = Field(
        None, description="the batteries the EV guard holds; unset: all; `none`: none"
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
    # s: how often `wattbus/health` is sent even unchanged, and the status line is logged
    health_interval: float = Field(30.0, ge=0.1, le=3600)
    status_interval: float = Field(300.0, ge=1, le=86_400)
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
    # calendar invites for dispatch windows: on when an SMTP host is named
    smtp_host: Host | None = Field(None, description="the mail server invites go through")
    smtp_port: Port | None = Field(None, description="none: the security's own (587, 465, 25)")
    smtp_security: Security = "starttls"
    smtp_username: str | None = Field(None, description="log in as; none: no login")
    smtp_password: SecretStr | None = None
    invite_from: Address | None = Field(None, description="the organizer of the invites")
    invite_to: Annotated[list[Address], NoDecode] = Field(
        default_factory=list, description="comma-separated, or a JSON list"
    )
    cheap_rate: Rate | None = Field(None, description="per kWh in a smart window")
    standard_rate: Rate | None = Field(None, description="per kWh otherwise")
    currency: str = Field("£", min_length=1, max_length=3)
    # solar tracking: on when a charger is named
    solar_chargers: Annotated[dict[DeviceId, ChargerKind], NoDecode, BeforeValidator(_tracked)] = (
        Field(default_factory=dict, description="id or id:kind (nrgkick, smartevse, zappi)")
    )
    solar_strategy: ChargingStrategy = ChargingStrategy.TRACKED
    solar_phases: Annotated[Literal[1, 3, "auto"], BeforeValidator(_phase_choice)] = 3
    solar_min_current: Amps = charging.MIN_CURRENT
    solar_max_current: Amps = 16.0
    solar_step: float = Field(1.0, gt=0, le=16, description="A the chargers take currents in")
    solar_voltage: float = Field(230.0, ge=100, le=260)
    solar_start_delay: Seconds = charging.START_DELAY
    solar_stop_delay: Seconds = charging.STOP_DELAY
    solar_import_stop_delay: Seconds = charging.IMPORT_STOP_DELAY
    solar_import_margin: Watts = charging.IMPORT_MARGIN
    solar_start_margin: Watts = 0.0
    solar_stop_margin: Watts = 0.0
    solar_phase_up_delay: Seconds = phase_rules.UP_DELAY
    solar_phase_down_delay: Seconds = phase_rules.DOWN_DELAY
    solar_pv: Annotated[list[DeviceId], NoDecode] = Field(
        default_factory=list, description="the inverters whose output is the PV signal"
    )
    solar_pv_peak: Watts = Field(0.0, description="W the array gives at most; 0: no clouds")
    solar_battery: DeviceId | None = Field(
        None, description="the house battery whose SoC counts; none: the first battery"
    )
    solar_battery_soc: float = Field(
        0.0, ge=0, le=100, description="% the battery reaches before the car; 0: car first"
    )
    solar_battery_max_charge: Watts = Field(0.0, description="W it charges with at most")
    solar_battery_assist: Watts = Field(0.0, description="W it may give the car in a dip")
    solar_slow_to_tracked_soc: float = Field(charging.SLOW_SOC, ge=0, le=100)
    # plugs on surplus: on when a plug is named; one rule set for all, shared in their order
    plugs: Annotated[list[DeviceId], NoDecode] = Field(
        default_factory=list, description="the plugs switched on surplus, first first"
    )
    plug_on_above: Watts = Field(2000.0, description="W of surplus that switches a plug on")
    plug_off_below: Watts | None = Field(None, description="W it goes off under; none: its draw")
    plug_min_soc: float = Field(0.0, ge=0, le=100, description="% the house battery needs")
    plug_windows: Windows = Field((), description="local hours, 10:00-16:00,18:00-19:00")
    plug_start: ClockTime = Field(time(0, 0), description="local time before which none runs")
    plug_min_on: Seconds = plug_policy.MIN_ON
    plug_min_off: Seconds = plug_policy.MIN_OFF
    plug_car_first: bool = True
    plug_battery_full_soc: float = Field(100.0, ge=0, le=100)
    plug_rules: dict[DeviceId, PlugRule] = Field(
        default_factory=dict, description='per plug, JSON: {"rod":{"on_above":2500}}'
    )

    @property
    def invites(self) -> bool:
        """Invites are for dispatch windows: they need a tariff as well as a mail server."""
        return self.smtp_host is not None and self.tariff is not None

    @field_validator(
        "batteries",
        "guard_batteries",
        "dispatch_batteries",
        "invite_to",
        "solar_pv",
        "plugs",
        mode="before",
    )
    @classmethod
    def _split(cls, v: object, info: ValidationInfo) -> object:
        """`a,b` as compose files write it, or `["a","b"]` as JSON; the ids are checked after.
        For the subsets, an empty value is the default (all batteries), and only `none` is
        none: a blank line in `.env` must not switch the guard off."""
        if not isinstance(v, str):
            return v
        if info.field_name in ("guard_batteries", "dispatch_batteries"):
            if not v.strip():
                return None
            if v.strip().lower() == "none":
                return []
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
        if self.meter in self.batteries and "batteries" not in self.model_fields_set:
            # the meter was given a battery's id: name what was changed, not the default list
            message = f"names {self.meter}, a battery (WATTBUS_CONTROLLER_BATTERIES)"
            raise field_error("ControllerSettings", "meter", message)
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
        self._solar_complete()
        for field in ("guard_batteries", "dispatch_batteries"):
            stray = sorted(set(getattr(self, field) or ()) - set(self.batteries))
            if stray:
                message = f"names {stray[0]}, not one of WATTBUS_CONTROLLER_BATTERIES"
                raise field_error("ControllerSettings", field, message)
        return self._invites_complete()

    def _solar_complete(self) -> None:
        taken = {self.meter, self.tariff, *self.batteries}
        for cid in self.solar_chargers:
            if cid in taken:
                message = f"names {cid}, which already has another role"
                raise field_error("ControllerSettings", "solar_chargers", message)
        for pid in self.plugs:
            if pid in taken or pid in self.solar_chargers or self.plugs.count(pid) > 1:
                message = f"names {pid} twice, or a device with another role"
                raise field_error("ControllerSettings", "plugs", message)
        for pid in self.plug_rules:
            if pid not in self.plugs:
                message = f"names {pid}, not one of WATTBUS_CONTROLLER_PLUGS"
                raise field_error("ControllerSettings", "plug_rules", message)
        if self.solar_battery is not None and self.solar_battery not in self.batteries:
            message = f"names {self.solar_battery}, not one of WATTBUS_CONTROLLER_BATTERIES"
            raise field_error("ControllerSettings", "solar_battery", message)
        if self.solar_min_current > self.solar_max_current:
            message = f"is above WATTBUS_CONTROLLER_SOLAR_MAX_CURRENT={self.solar_max_current:g}"
            raise field_error("ControllerSettings", "solar_min_current", message)
        if self.solar_battery_soc > 0 and self.solar_battery_max_charge <= 0:
            message = "is needed with WATTBUS_CONTROLLER_SOLAR_BATTERY_SOC: what the battery takes"
            raise field_error("ControllerSettings", "solar_battery_max_charge", message)

    def tracking(
        self, strategies: dict[str, ChargingStrategy] | None = None
    ) -> charging.ChargingSettings | None:
        """The charging policy's settings, with the strategies set at run time in place of
        the configured one; None: no charger is tracked."""
        if not self.solar_chargers:
            return None
        return self._tracking(strategies or {})

    def _tracking(self, strategies: dict[str, ChargingStrategy]) -> charging.ChargingSettings:
        chargers = {
            cid: charging.ChargerSettings(
                strategy=strategies.get(cid, self.solar_strategy),
                phases=self._phases(kind),
                min_current=self.solar_min_current,
                max_current=self.solar_max_current,
                step=self.solar_step,
                voltage=self.solar_voltage,
                follows_sun=kind in FOLLOWS_SUN,
            )
            for cid, kind in self.solar_chargers.items()
        }
        return charging.ChargingSettings(
            chargers=chargers,
            pv_peak=self.solar_pv_peak,
            start_margin=self.solar_start_margin,
            stop_margin=self.solar_stop_margin,
            start_delay=self.solar_start_delay,
            stop_delay=self.solar_stop_delay,
            import_stop_delay=self.solar_import_stop_delay,
            import_margin=self.solar_import_margin,
            phase_up_delay=self.solar_phase_up_delay,
            phase_down_delay=self.solar_phase_down_delay,
            slow_to_tracked_soc=self.solar_slow_to_tracked_soc,
        )

    def _phases(self, kind: ChargerKind) -> phase_rules.PhaseChoice:
        if self.solar_phases == "auto" and kind not in SWITCHING:
            return 3
        return self.solar_phases

    @property
    def plugging(self) -> plug_policy.PlugsSettings | None:
        """The plug policy's settings; None: no plug is switched."""
        if not self.plugs:
            return None
        shared = plug_policy.PlugSettings(
            on_above=self.plug_on_above,
            off_below=self.plug_off_below,
            min_soc=self.plug_min_soc,
            windows=self.plug_windows,
            start=self.plug_start,
            min_on=self.plug_min_on,
            min_off=self.plug_min_off,
        )
        own = {p: r.model_dump(exclude_none=True) for p, r in self.plug_rules.items()}
        return plug_policy.PlugsSettings(
            plugs={p: dataclasses.replace(shared, **own.get(p, {})) for p in self.plugs},
            timezone=self.timezone,
            car_first=self.plug_car_first,
            battery_full_soc=self.plug_battery_full_soc,
        )

    def _invites_complete(self) -> Self:
        if self.smtp_host is None:
            return self
        if self.invite_from is None:
            raise field_error("ControllerSettings", "invite_from", "is needed with an SMTP host")
        if not self.invite_to:
            message = "should name at least one address with an SMTP host"
            raise field_error("ControllerSettings", "invite_to", message)
        if (self.smtp_username is None) != (self.smtp_password is None):
            given, missing = ("username", "password")
            if self.smtp_username is None:
                given, missing = missing, given
            message = f"is needed with WATTBUS_CONTROLLER_SMTP_{given.upper()}"
            raise field_error("ControllerSettings", f"smtp_{missing}", message)
        return self
