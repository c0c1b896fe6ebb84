"""The normalised states and commands every service exchanges over MQTT.

Units and signs are fixed here for the whole suite: W, Wh, A, V, %, seconds, UTC.
Grid power > 0 is import; battery power > 0 is charging; PV power > 0 is producing.
Bridges convert vendor units and signs into these models and nowhere else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError


def utcnow() -> datetime:
    return datetime.now(UTC)


class State(BaseModel):
    """Base of every published state: frozen, with the time it was measured."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ts: datetime

    def same_values(self, other: State | None) -> bool:
        """True when nothing but the timestamp differs: such a state is not re-published at once."""
        return other is not None and self.model_dump(exclude={"ts"}) == other.model_dump(
            exclude={"ts"}
        )

    def slack(self) -> float:
        """s past the usual age limit this state still tells about now: none for a reading of
        an instant."""
        return 0.0


class MeterState(State):
    """A grid meter at the house's connection point."""

    power: float = Field(description="W, total active power, > 0 import")
    power_l1: float | None = None
    power_l2: float | None = None
    power_l3: float | None = None
    current_l1: float | None = Field(None, description="A, signed like that phase's power")
    current_l2: float | None = None
    current_l3: float | None = None
    voltage_l1: float | None = None
    voltage_l2: float | None = None
    voltage_l3: float | None = None
    energy_import: float | None = Field(None, description="Wh, total imported")
    energy_export: float | None = Field(None, description="Wh, total exported")
    # A meter read from a cloud that averages (a Smappee's 5-minute blocks): `ts` is where
    # the block starts and `power` its average
    span: float | None = Field(
        None, gt=0, le=3600, description="s the values average over, from `ts`; None: an instant"
    )
    load_power: float | None = Field(None, description="W, the house's use, where measured")
    pv_power: float | None = Field(None, description="W, solar on the house's side, where measured")
    always_on: float | None = Field(None, description="W, the house's standby load, estimated")

    def slack(self) -> float:
        """A block is complete only at its end (`ts` + span), and a cloud shows it some time
        after that: a block one behind the newest complete one is still the meter's latest
        word, one two behind it is not (`ts` more than three spans ago)."""
        return 3 * self.span if self.span else 0.0


class HoldRoute(StrEnum):
    """How a battery is kept from discharging while held."""

    MIN_SOC = "min_soc"
    OUTPUT_LIMIT = "output_limit"
    BACKUP = "backup"  # backup mode with a high reserve (Powerwall)


# What a battery with operating modes is set to do (Powerwall's names)
Operation = Literal["self_consumption", "backup", "autonomous"]


class BatteryState(State):
    """A home battery, as its bridge sees it."""

    soc: float = Field(description="%, state of charge")
    power: float = Field(description="W, battery power, > 0 charging")
    pv_power: float | None = Field(None, description="W, PV into the battery unit")
    output_home_power: float | None = Field(None, description="W, AC delivered to the home")
    grid_input_power: float | None = Field(None, description="W, AC drawn from the home to charge")
    min_soc: float | None = Field(None, description="%, discharge floor")
    soc_set: float | None = Field(None, description="%, charge ceiling")
    output_limit: float | None = Field(None, description="W, AC output limit")
    input_limit: float | None = Field(None, description="W, AC charge limit")
    mode: Literal["input", "output"] | None = None
    reserve: float | None = Field(None, description="%, kept for a grid outage (the app's scale)")
    operation: Operation | None = Field(None, description="its operating mode, where it has one")
    site_power: float | None = Field(
        None, description="W, grid power its gateway measures, > 0 import"
    )
    load_power: float | None = Field(None, description="W, the home's use its gateway measures")
    hold: bool = False
    hold_route: HoldRoute | None = None
    hold_expires: datetime | None = None


# A command's `id` is echoed in the answer: printable text (not a lone surrogate, which no
# JSON encoder can write back) or an integer JSON carries exactly; never a boolean.
ID_MAX_LENGTH = 128
ID_MAX_INT = 2**53  # the largest integer a JavaScript client (Node-RED) reads back exactly


def _printable(value: str) -> str:
    if not value.isprintable():
        raise PydanticCustomError("printable", "Input should be printable text")
    return value


CommandId = (
    Annotated[StrictStr, Field(min_length=1, max_length=ID_MAX_LENGTH), AfterValidator(_printable)]
    | Annotated[StrictInt, Field(ge=-ID_MAX_INT, le=ID_MAX_INT)]
)


class ChargerMode(StrEnum):
    """What an EV charger does with the power it may use."""

    OFF = "off"  # no charging at all
    NORMAL = "normal"  # charge at the set current, whatever the house draws
    SMART = "smart"  # charge as fast as the mains connection allows
    SOLAR = "solar"  # charge from surplus only
    MIN_SOLAR = "min_solar"  # the least current from anywhere, more from surplus (Zappi Eco)
    PAUSE = "pause"  # a session held open, not charging


class ChargerState(State):
    """An EV charger, as its bridge sees it. Currents per phase, in A; what the charger does
    not report is left out (None), never guessed."""

    charging: bool = Field(description="the car draws power now")
    plugged: bool | None = Field(None, description="a car is connected")
    power: float | None = Field(None, description="W, charging power")
    current: float | None = Field(None, description="A, the current the charger offers now")
    current_override: float | None = Field(None, description="A, set by hand; None: none")
    min_current: float | None = Field(None, description="A, the least it charges with")
    max_current: float | None = Field(None, description="A, the most it charges with")
    phases: int | None = Field(None, ge=1, le=3, description="phases charging")
    session_energy: float | None = Field(None, description="Wh, charged this session")
    total_energy: float | None = Field(None, description="Wh, charged in all")
    mode: ChargerMode | None = None
    mode_name: str | None = Field(None, description="the charger's own name for its mode (Eco+)")
    status_code: str | None = Field(None, description="its own state code, as sent (Zappi C2)")
    status: str | None = Field(None, description="that state in the charger's own words")
    access: Literal["allow", "deny", "pause"] | None = None
    error: str | None = Field(None, description="the charger's own words; None: no error")


class ChargingStrategy(StrEnum):
    """What the controller does with a tracked charger (docs/architecture.md, "Solar")."""

    OFF = "off"  # no charging
    SLOW = "slow"  # the least current now; tracked by itself once the house battery is full
    FAST = "fast"  # the most current now
    TRACKED = "tracked"  # surplus only
    MIN_PV = "min_pv"  # the least current now, more from surplus


class InverterState(State):
    """A solar inverter. PV power > 0 is producing; what it does not report is None."""

    power: float = Field(description="W, AC output, > 0 producing")
    dc_power: float | None = Field(None, description="W, DC input from the panels")
    energy: float | None = Field(None, description="Wh, AC produced in all")
    status_code: int | None = Field(None, description="its own operating state, as sent")
    status: str | None = Field(None, description="that state in the maker's words")


class PlugState(State):
    """A smart plug (Kasa, Tapo): its relay, and what it measures where it has a meter. A
    plug without one (HS100, P100) leaves every measured field out (None), never 0."""

    on: bool = Field(description="the relay is closed: the load has power")
    power: float | None = Field(None, description="W, drawn by the load now")
    energy: float | None = Field(None, description="Wh, in all, as the plug counts it")
    energy_today: float | None = Field(None, description="Wh, since midnight on the plug's clock")
    voltage: float | None = Field(None, description="V")
    current: float | None = Field(None, description="A")
    model: str | None = Field(None, description="the plug's own model name (HS110(EU))")
    alias: str | None = Field(None, description="the name it was given in its app")


class DispatchKind(StrEnum):
    """Why a smart tariff runs the car: only `smart` windows are billed at the cheap rate."""

    SMART = "smart"  # the supplier's planned smart charge: the whole house pays the cheap rate
    BOOST = "boost"  # a charge the owner asked for now (bump charge): normal rates
    TEST = "test"  # the supplier testing the device
    OTHER = "other"  # a type this version does not know: treated as not cheap


class DispatchWindow(BaseModel):
    """A dispatch as the tariff's bridge publishes it: UTC, rounded out to half-hour slots
    (billing counts any half hour a dispatch touches), merged with its neighbours."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: datetime
    end: datetime
    kind: DispatchKind
    energy: float | None = Field(None, description="Wh the supplier plans to add")


class TariffState(State):
    """A smart EV tariff (Kraken: Octopus Intelligent, EON Next Drive Smart). `ts` is when
    it was published; `fetched` when the dispatch list was last read from the supplier."""

    windows: list[DispatchWindow] = Field(description="planned, not yet ended, by start")
    active: bool = Field(description="a smart window runs at `ts`")
    current: DispatchWindow | None = Field(None, description="the window running at `ts`")
    device_state: str | None = Field(
        None, description="the dispatched device's own state (SMART_CONTROL_IN_PROGRESS)"
    )
    source: Literal["flex", "planned"] | None = Field(
        None, description="the query the list came from; None: the last one failed"
    )
    fetched: datetime | None = None


class Command(BaseModel):
    """Base of every command: a partial update; unknown keys are an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: CommandId | None = Field(None, description="echoed in the answering event")


def _zero_or_at_least(minimum: float, unit: str) -> AfterValidator:
    """0 means "at the first reading" and is meant; a fraction of a second above it is never
    meant (readings come at most once a second), so it is refused rather than obeyed."""

    def check(value: float) -> float:
        if 0 < value < minimum:
            message = f"Input should be 0 (at once) or at least {minimum:g} {unit}"
            raise PydanticCustomError("zero_or_at_least", message)
        return value

    return AfterValidator(check)


# The ranges a user could mean, for commands and for the settings that set the same values
# (those read text from the environment). docs/topics.md lists them. Never NaN or infinite.
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
# no home battery's AC output reaches 100 kW; a bridge checks its own device's limit on top
Watts = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
# below 100 W even a kettle's standby "is an EV"; above 50 kW is past any home connection
Threshold = Annotated[float, Field(ge=100, le=50_000, allow_inf_nan=False)]
# 10 s: the shortest lease a bridge polling every few seconds can keep; a day at most, so
# a lost controller never leaves a battery held for longer
Lease = Annotated[float, Field(ge=10, le=86_400, allow_inf_nan=False)]
# how long power stays above (confirm) or below (release) the threshold: 0 or a real wait, up
# to an hour (a car that needs longer to be believed is never confirmed while it charges)
Confirm = Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False), _zero_or_at_least(0.5, "s")]
Release = Annotated[float, Field(ge=0, le=3600, allow_inf_nan=False), _zero_or_at_least(1, "s")]


def _json_number(value: object) -> object:
    """A command's number is a JSON number: Python counts `True` as 1 and would read `"20"`
    as 20, and neither is what the sender wrote."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        kinds = {bool: "a boolean", str: "text", list: "a list", dict: "an object"}
        kind = kinds.get(type(value), type(value).__name__)
        raise PydanticCustomError(
            "json_number", "Input should be a number, not {kind}", {"kind": kind}
        )
    return value


JsonNumber = BeforeValidator(_json_number)


def _only_true(value: bool, info: ValidationInfo) -> bool:
    """An action field (`reset`, `refresh`, `stop_boost`): `false` would read as "do not",
    which is what leaving the field out already says."""
    if value is False:
        raise ValueError(f"{info.field_name} takes only true")
    return value


# a field that asks for an action, `true` or absent
OnlyTrue = Annotated[StrictBool, AfterValidator(_only_true)]
# `{"reset": true}`: drop what was set at run time, so the settings apply again
Reset = OnlyTrue


class BatteryCommand(Command):
    """What a battery bridge accepts on `set` and `set/<field>`."""

    min_soc: Annotated[Percent, JsonNumber] | None = None
    output_limit: Annotated[Watts, JsonNumber] | None = None
    hold: StrictBool | None = None
    lease: Annotated[Lease, JsonNumber] | None = Field(
        None, description="s, how long a hold lasts without renewal"
    )


class PlugCommand(Command):
    """What a smart plug's bridge accepts: the relay, on or off."""

    on: StrictBool | None = Field(None, description="true closes the relay, false opens it")


class ControllerMode(StrEnum):
    AUTO = "auto"  # detect EV charging and hold batteries while it lasts
    PAUSE = "pause"  # hold batteries now, whatever the meter says
    RESUME = "resume"  # never hold, whatever the meter says
    OFF = "off"  # leave batteries alone: release what the guard held, then send nothing


class ControllerCommand(Command):
    """What the controller accepts on `wattbus/controller/set`."""

    mode: ControllerMode | None = None
    threshold: Annotated[Threshold, JsonNumber] | None = None
    confirm: Annotated[Confirm, JsonNumber] | None = None
    release: Annotated[Release, JsonNumber] | None = None
    strategy: ChargingStrategy | None = Field(None, description="for every tracked charger")
    strategies: (
        dict[Annotated[str, Field(min_length=1, max_length=64)], ChargingStrategy] | None
    ) = Field(None, description="per tracked charger, by its id")
    reset: Reset | None = Field(None, description="true drops every value saved at run time")


class EventKind(StrEnum):
    APPLIED = "applied"  # a command was carried out
    REJECTED = "rejected"  # a command was refused; nothing changed
    ERROR = "error"  # a device or a restore failed
    NOTICE = "notice"  # something happened that a person would want to know (`code` says what)


class Event(BaseModel):
    """An answer to a command, a device error, or a notice; never retained.

    `code` is a stable, machine-readable name for notices and errors that are not answers to a
    command (`ev_detected`, `lease_expired`, ...; docs/topics.md lists them), for Node-RED and
    notifications to switch on; `reason` is the same in words; `data` carries the values
    involved (what was restored, for example)."""

    model_config = ConfigDict(frozen=True)

    ts: datetime = Field(default_factory=utcnow)
    kind: EventKind
    id: str | int | None = None
    topic: str | None = None
    command: dict[str, object] | None = None
    reason: str | None = None
    code: str | None = None
    data: dict[str, object] | None = None


class BridgeHealth(State):
    """A bridge's own word on its device (`wattbus/<id>/health`, retained): `ts` is when it
    said so, so a bridge that died without a word shows by its age."""

    last_success: datetime | None = Field(None, description="the last read the device answered")
    failures: int = Field(0, ge=0, description="failed reads in a row; 0 while it answers")
    error: str | None = Field(None, description="the last failure, while they last")


HomeStatus = Literal["ok", "degraded", "problem"]


class DeviceHealth(BaseModel):
    """One service or device in `wattbus/health`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    online: bool | None = Field(description="its availability; None: never said")
    last_success: datetime | None = None
    failures: int = 0
    error: str | None = None


class HomeHealth(State):
    """Every service and device the controller hears of (`wattbus/health`, retained)."""

    status: HomeStatus = Field(description="ok; degraded: failures but online; problem")
    problems: tuple[str, ...] = Field((), description="one line per device not ok")
    devices: dict[str, DeviceHealth] = {}
