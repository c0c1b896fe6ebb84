"""Records already on users' disks: the Zendure bridge's version 2 file (and version 1, from
before smartMode was saved) load into the shared hold and restore exactly, and the shared hold
writes the same file. Literal files, a fake SolarFlow on loopback, the Zendure port."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.model_battery import GatewayPort
from wattbus.hold import Holder, Release
from wattbus.models import HoldRoute
from wattbus_simulator.fake_zendure import ZendureState
from wattbus_zendure.port import Saved, SolarFlowPort

T0 = datetime(2025, 6, 1, 18, 0, tzinfo=UTC)

# as the Zendure bridge wrote it before the hold moved to wattbus.hold
VERSION_2 = """{
  "version": 2,
  "saved": {
    "min_soc": 15.0,
    "output_limit": 800.0,
    "smart_mode": 0
  },
  "route": "min_soc",
  "since": "2025-06-01T18:00:00Z",
  "expires": "2025-06-01T18:01:00Z",
  "release_requested": false
}"""

VERSION_1 = """{
  "version": 1,
  "saved": {
    "min_soc": 15.0,
    "output_limit": 800.0
  },
  "route": "output_limit",
  "since": "2025-06-01T18:00:00Z",
  "expires": "2025-06-01T18:01:00Z"
}"""


async def write(path: Path, text: str) -> None:
    await asyncio.to_thread(path.write_text, text)


async def read(path: Path) -> str:
    return await asyncio.to_thread(path.read_text)


async def test_a_version_2_record_restores_exactly_with_the_owners_smart_mode(
    state: ZendureState, solarflow: SolarFlowPort, hold_file: Path
) -> None:
    state.properties.update(minSoc=1000, smartMode=1)  # held by the earlier bridge, in RAM
    before = state.flash_writes
    await write(hold_file, VERSION_2)
    holder = Holder(solarflow, hold_file)
    assert holder.held and holder.route is HoldRoute.MIN_SOC
    assert holder.saved == Saved(min_soc=15.0, output_limit=800.0, smart_mode=0)
    assert holder.expires == T0 + timedelta(seconds=60)
    assert await holder.release(T0 + timedelta(seconds=10)) is Release.RESTORED
    assert (state.properties["minSoc"], state.properties["outputLimit"]) == (150, 800)
    assert state.properties["smartMode"] == 0
    assert state.flash_writes == before + 1
    assert not await asyncio.to_thread(hold_file.exists)


async def test_a_version_1_record_restores_exactly_in_ram(
    state: ZendureState, solarflow: SolarFlowPort, hold_file: Path
) -> None:
    state.properties.update(outputLimit=0, minSoc=150)  # held by output limit
    await write(hold_file, VERSION_1)
    holder = Holder(solarflow, hold_file)
    assert holder.route is HoldRoute.OUTPUT_LIMIT
    assert holder.saved == Saved(min_soc=15.0, output_limit=800.0, smart_mode=None)
    assert await holder.release(T0 + timedelta(seconds=10)) is Release.RESTORED
    assert (state.properties["minSoc"], state.properties["outputLimit"]) == (150, 800)
    assert state.writes[-1]["properties"]["smartMode"] == 1
    assert state.flash_writes == 0


async def test_the_file_keeps_its_format_byte_for_byte(
    solarflow: SolarFlowPort, hold_file: Path
) -> None:
    """A bridge rolled back to the version before the move reads what this one wrote."""
    await write(hold_file, VERSION_2)
    holder = Holder(solarflow, hold_file)
    await holder.hold(60, T0)  # a renewal at T0 keeps every field as it was
    assert await read(hold_file) == VERSION_2


async def test_a_version_1_record_is_written_back_as_version_2(
    solarflow: SolarFlowPort, hold_file: Path
) -> None:
    await write(hold_file, VERSION_1)
    await Holder(solarflow, hold_file).hold(120, T0)
    record = json.loads(await read(hold_file))
    assert record["version"] == 2
    assert record["saved"] == {"min_soc": 15.0, "output_limit": 800.0, "smart_mode": None}
    assert record["expires"] == "2025-06-01T18:02:00Z"


async def test_a_record_another_battery_cannot_read_is_moved_aside(
    port: GatewayPort, hold_file: Path
) -> None:
    """A Zendure record under a gateway's name: its settings are not the gateway's."""
    await write(hold_file, VERSION_2)
    holder = Holder(port, hold_file)
    assert not holder.held
    assert await read(hold_file.with_name(hold_file.name + ".corrupt")) == VERSION_2


async def test_text_settings_go_to_disk_as_text(port: GatewayPort, hold_file: Path) -> None:
    await Holder(port, hold_file).hold(60, T0)
    record = json.loads(await read(hold_file))
    assert record["saved"] == {"operation": "self_consumption", "reserve": 20.0}
    assert record["route"] == "backup"
