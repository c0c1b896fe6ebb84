"""The zenSDK `/properties/report` body, as the device sends it, and its wattbus meaning.

Fields carry the device's own names as aliases and its own units (see the descriptions);
the conversion to wattbus units and signs happens once, in `Report.battery_state`.
Unknown fields are ignored and most fields are optional: firmware versions and models
(800, 800 Pro, 2400 AC) report different subsets.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from wattbus.models import BatteryState

# minSoc and socSet are reported and written in tenths of a percent (zh doc: "minSoc 0-500:
# 0%-50%", "socSet 700-1000: 70%-100%"; evcc reads them with scale 0.1). Only this package
# converts, at the edge: `Properties.min_soc_percent` on read, `SolarFlow.set_min_soc` on write.
SOC_SCALE = 10

AC_MODES: dict[int, Literal["input", "output"]] = {1: "input", 2: "output"}
MAX_OUTPUT_LIMIT = 2400  # W: the largest SolarFlow's (2400 AC) rated AC output


def product_name(product: str) -> str:
    """The name a person knows the unit by, for Home Assistant: `solarFlow2400AC` is
    "Zendure SolarFlow 2400 AC", `solarFlow800Pro` "Zendure SolarFlow 800 Pro"."""
    words = re.sub(r"^solarFlow", "SolarFlow ", product)
    words = re.sub(r"(?<=\d)(?=[A-Z])", " ", words).strip()
    return f"Zendure {words}"


class _DeviceModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Properties(_DeviceModel):
    """`properties{}` of the report. Units are the device's; W unless said otherwise."""

    # read-only measurements
    electric_level: int = Field(alias="electricLevel", description="%, average SoC of the packs")
    pack_input_power: int = Field(alias="packInputPower", description="W, battery DISCHARGE")
    output_pack_power: int = Field(alias="outputPackPower", description="W, battery CHARGE")
    output_home_power: int | None = Field(None, alias="outputHomePower", description="W to home")
    solar_input_power: int | None = Field(None, alias="solarInputPower", description="W, PV")
    grid_input_power: int | None = Field(None, alias="gridInputPower", description="W from grid")
    remain_out_time: int | None = Field(None, alias="remainOutTime", description="min")
    pack_state: int | None = Field(
        None, alias="packState", description="0 standby, 1 charging, 2 discharging"
    )
    pack_num: int | None = Field(None, alias="packNum", description="number of packs")
    soc_limit: int | None = Field(
        None, alias="socLimit", description="0 normal, 1 charge cut-off, 2 discharge cut-off"
    )
    hyper_tmp: int | None = Field(None, alias="hyperTmp", description="enclosure temperature")
    bat_volt: int | None = Field(None, alias="BatVolt", description="0.01 V")
    charge_max_limit: int | None = Field(None, alias="chargeMaxLimit", description="W, AC charge")
    rssi: int | None = Field(None, description="dBm")
    is_error: int | None = Field(None, description="0 no error")
    # read/write settings
    ac_mode: int | None = Field(None, alias="acMode", description="1 input/charge, 2 output")
    input_limit: int | None = Field(None, alias="inputLimit", description="W, AC charge limit")
    output_limit: int | None = Field(None, alias="outputLimit", description="W, AC output limit")
    soc_set: int | None = Field(None, alias="socSet", description="0.1 %, charge ceiling")
    min_soc: int | None = Field(None, alias="minSoc", description="0.1 %, discharge floor")
    grid_reverse: int | None = Field(
        None, alias="gridReverse", description="0 disabled, 1 allow, 2 forbid"
    )
    inverse_max_power: int | None = Field(None, alias="inverseMaxPower", description="W")
    grid_standard: int | None = Field(None, alias="gridStandard", description="0 DE, 1 FR, 2 AT")
    smart_mode: int | None = Field(None, alias="smartMode", description="1 RAM, 0 flash")

    @property
    def min_soc_percent(self) -> float | None:
        return None if self.min_soc is None else self.min_soc / SOC_SCALE

    @property
    def soc_set_percent(self) -> float | None:
        return None if self.soc_set is None else self.soc_set / SOC_SCALE

    @property
    def battery_power(self) -> int:
        """W, > 0 charging: the device reports charge and discharge as two positive fields."""
        return self.output_pack_power - self.pack_input_power


class Pack(_DeviceModel):
    """One entry of `packData[]`."""

    sn: str | None = None
    pack_type: int | None = Field(None, alias="packType")
    soc_level: int | None = Field(None, alias="socLevel", description="%")
    state: int | None = Field(None, description="0 standby, 1 charging, 2 discharging")
    power: int | None = Field(None, description="W")
    max_temp: int | None = Field(None, alias="maxTemp", description="0.1 K")
    total_vol: int | None = Field(None, alias="totalVol", description="0.01 V")
    batcur: int | None = Field(None, description="int16 two's complement, 0.1 A")
    max_vol: int | None = Field(None, alias="maxVol", description="0.01 V, highest cell")
    min_vol: int | None = Field(None, alias="minVol", description="0.01 V, lowest cell")
    soft_version: int | None = Field(None, alias="softVersion")

    @property
    def current(self) -> float | None:
        """A, signed: the device sends the int16 as an unsigned number (65387 is -14.9 A)."""
        if self.batcur is None:
            return None
        raw = self.batcur - 0x10000 if self.batcur >= 0x8000 else self.batcur
        return raw / 10

    @property
    def max_temp_celsius(self) -> float | None:
        return None if self.max_temp is None else (self.max_temp - 2731) / 10


class Report(_DeviceModel):
    """The whole `GET /properties/report` body."""

    timestamp: int | None = None
    message_id: int | None = Field(None, alias="messageId")
    sn: str
    version: int | None = None
    product: str | None = None
    properties: Properties
    packs: tuple[Pack, ...] = Field((), alias="packData")

    def battery_state(self, ts: datetime) -> BatteryState:
        """The wattbus view: W with battery > 0 charging, % for the SoC settings.

        The hold fields stay at their defaults; `Holder.annotate` owns them.
        """
        p = self.properties
        return BatteryState(
            ts=ts,
            soc=p.electric_level,
            power=p.battery_power,
            pv_power=p.solar_input_power,
            output_home_power=p.output_home_power,
            grid_input_power=p.grid_input_power,
            min_soc=p.min_soc_percent,
            soc_set=p.soc_set_percent,
            output_limit=p.output_limit,
            input_limit=p.input_limit,
            mode=None if p.ac_mode is None else AC_MODES.get(p.ac_mode),
        )
