"""The hold against the fake: saved before changed, restored exactly, a lease that runs out,
and a record that survives restarts and outages. Time is passed in, never slept through."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from wattbus.commands import CommandError
from wattbus.hold import HoldFileError, NotAppliedError, Release, Setting
from wattbus.models import BatteryState, EventKind, HoldRoute
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState, start_fake_zendure
from wattbus_zendure.client import SolarFlow
from wattbus_zendure.exceptions import DeviceConnectionError, DeviceResponseError
from wattbus_zendure.hold import Holder

T0 = datetime(2025, 6, 1, 18, 0, tzinfo=UTC)
LEASE = 60.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def on_disk(path: Path) -> dict[str, Any] | None:
    """The hold record as the next run of the bridge would find it."""
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    assert isinstance(record, dict)
    return record


def saved_on_disk(path: Path) -> Any:
    record = on_disk(path)
    assert record is not None
    return record["saved"]


async def test_hold_saves_then_sets_min_soc_100(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    assert await holder.hold(LEASE, T0) is HoldRoute.MIN_SOC
    assert state.properties["minSoc"] == 1000
    assert state.properties["outputLimit"] == 800
    assert saved_on_disk(hold_file) == {"min_soc": 15.0, "output_limit": 800.0, "smart_mode": 1}
    assert holder.held and holder.route is HoldRoute.MIN_SOC
    assert holder.expires == at(LEASE)
    assert state.flash_writes == 0


async def test_hold_that_cannot_save_changes_nothing(
    state: ZendureState, flow: SolarFlow, tmp_path: Path
) -> None:
    holder = Holder(flow, tmp_path / "state" / "hold.json")
    # the folder for the record is gone, and a file has its name
    await asyncio.to_thread((tmp_path / "state").rmdir)
    await asyncio.to_thread((tmp_path / "state").write_text, "")
    with pytest.raises(HoldFileError):
        await holder.hold(LEASE, T0)
    assert state.writes == []
    assert not holder.held


async def test_second_hold_only_extends(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    writes = len(state.writes)
    assert await holder.hold(LEASE, at(30)) is HoldRoute.MIN_SOC
    assert len(state.writes) == writes
    assert holder.expires == at(30 + LEASE)
    assert saved_on_disk(hold_file) == {"min_soc": 15.0, "output_limit": 800.0, "smart_mode": 1}
    assert Holder(flow, hold_file).expires == at(30 + LEASE)


async def test_release_restores_exactly_and_is_idempotent(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    state.properties["outputLimit"] = 650  # something else moved it meanwhile
    assert await holder.release(at(10)) is Release.RESTORED
    assert state.properties["minSoc"] == 150
    assert state.properties["outputLimit"] == 800
    assert on_disk(hold_file) is None
    assert not holder.held
    writes = len(state.writes)
    assert await holder.release(at(20)) is Release.NOTHING
    assert len(state.writes) == writes
    assert state.flash_writes == 0


async def test_lease_expiry_restores(state: ZendureState, flow: SolarFlow, hold_file: Path) -> None:
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    assert await holder.expire(at(LEASE - 1)) is False
    assert state.properties["minSoc"] == 1000
    assert await holder.expire(at(LEASE)) is True
    assert state.properties["minSoc"] == 150
    assert await holder.expire(at(LEASE + 1)) is False


async def test_restart_keeps_the_hold_and_releases_once(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    await Holder(flow, hold_file).hold(LEASE, T0)
    restarted = Holder(flow, hold_file)
    assert restarted.held
    assert restarted.route is HoldRoute.MIN_SOC
    assert restarted.expires == at(LEASE)
    assert await restarted.expire(at(30)) is False
    writes = len(state.writes)
    assert await restarted.expire(at(LEASE + 5)) is True
    assert await restarted.expire(at(LEASE + 10)) is False
    assert len(state.writes) == writes + 1
    assert state.properties["minSoc"] == 150
    assert not Holder(flow, hold_file).held


async def test_firmware_refusing_min_soc_above_50_holds_by_output_limit(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.min_soc_above_50 = "ignored"
    holder = Holder(flow, hold_file)
    assert await holder.hold(LEASE, T0) is HoldRoute.OUTPUT_LIMIT
    assert state.properties["outputLimit"] == 0
    assert state.properties["minSoc"] == 150
    assert (on_disk(hold_file) or {})["route"] == "output_limit"
    assert await holder.release(at(10)) is Release.RESTORED
    assert state.properties["outputLimit"] == 800
    assert state.properties["minSoc"] == 150


async def test_hold_applied_by_neither_route_restores_and_raises(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.min_soc_above_50 = "ignored"
    state.ignored = {"outputLimit"}
    holder = Holder(flow, hold_file)
    with pytest.raises(NotAppliedError):
        await holder.hold(LEASE, T0)
    assert not holder.held
    assert on_disk(hold_file) is None
    assert state.properties["minSoc"] == 150
    assert state.properties["outputLimit"] == 800


async def test_restore_failing_while_device_down_keeps_the_record(
    state: ZendureState, fake: FakeZendure, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    await fake.close()
    with pytest.raises(DeviceConnectionError):
        await holder.release(at(10))
    with pytest.raises(DeviceConnectionError):
        await holder.expire(at(LEASE + 1))
    assert holder.held
    assert saved_on_disk(hold_file) == {"min_soc": 15.0, "output_limit": 800.0, "smart_mode": 1}
    back = await start_fake_zendure(state, host=fake.host, port=fake.port, faults=fake.faults)
    try:
        assert await holder.expire(at(LEASE + 2)) is True
    finally:
        await back.close()
    assert state.properties["minSoc"] == 150
    assert state.properties["outputLimit"] == 800
    assert on_disk(hold_file) is None


async def test_restore_not_applied_keeps_the_record(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    state.ignored = {"minSoc"}
    with pytest.raises(NotAppliedError):
        await holder.release(at(10))
    assert holder.held and on_disk(hold_file) is not None
    state.ignored = set()
    assert await holder.release(at(20)) is Release.RESTORED
    assert state.properties["minSoc"] == 150


async def test_user_settings_during_a_hold_change_only_the_saved_values(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    writes = len(state.writes)
    assert await holder.set_min_soc(30, at(5)) is Setting.DEFERRED
    assert await holder.set_output_limit(1200, at(6)) is Setting.DEFERRED
    assert len(state.writes) == writes
    assert state.properties["minSoc"] == 1000
    assert saved_on_disk(hold_file) == {"min_soc": 30.0, "output_limit": 1200.0, "smart_mode": 1}
    await holder.release(at(10))
    assert state.properties["minSoc"] == 300
    assert state.properties["outputLimit"] == 1200


async def test_user_settings_without_a_hold_go_to_the_device(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    assert await holder.set_min_soc(20, T0) is Setting.APPLIED
    assert await holder.set_output_limit(400, T0) is Setting.APPLIED
    assert state.properties["minSoc"] == 200
    assert state.properties["outputLimit"] == 400
    state.ignored = {"outputLimit"}
    with pytest.raises(NotAppliedError):
        await holder.set_output_limit(500, T0)


async def test_fallback_when_nothing_was_saved(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.properties.update(minSoc=1000, outputLimit=0, acMode=2)
    assert await Holder(flow, hold_file).release(T0) is Release.NOTHING
    assert state.properties["minSoc"] == 1000
    holder = Holder(flow, hold_file, fallback_min_soc=10, fallback_output_limit=600)
    assert await holder.release(T0) is Release.FALLBACK
    assert state.properties["minSoc"] == 100
    assert state.properties["outputLimit"] == 600
    assert await holder.release(at(1)) is Release.NOTHING


async def test_fallback_leaves_a_device_that_does_not_look_held(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.properties.update(minSoc=150, outputLimit=0, acMode=1)  # charging: 0 W out is normal
    holder = Holder(flow, hold_file, fallback_min_soc=10, fallback_output_limit=600)
    assert await holder.release(T0) is Release.NOTHING
    assert state.properties["minSoc"] == 150
    assert state.properties["outputLimit"] == 0
    assert state.writes == []


async def test_hold_on_a_device_already_held_saves_the_fallback(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.properties["minSoc"] = 1000  # held by a run whose record was lost
    holder = Holder(flow, hold_file, fallback_min_soc=10)
    await holder.hold(LEASE, T0)
    assert saved_on_disk(hold_file) == {"min_soc": 10.0, "output_limit": 800.0, "smart_mode": 1}


async def test_annotate(flow: SolarFlow, hold_file: Path) -> None:
    holder = Holder(flow, hold_file)
    state = (await flow.report()).battery_state(T0)
    assert holder.annotate(state).hold is False
    await holder.hold(LEASE, T0)
    held: BatteryState = holder.annotate((await flow.report()).battery_state(at(1)))
    assert (held.hold, held.hold_route, held.hold_expires) == (
        True,
        HoldRoute.MIN_SOC,
        at(LEASE),
    )
    assert held.min_soc == 100.0


async def test_corrupt_record_is_moved_aside(flow: SolarFlow, hold_file: Path) -> None:
    await asyncio.to_thread(hold_file.write_text, "{not json")
    holder = Holder(flow, hold_file)
    assert not holder.held
    aside = hold_file.with_name(hold_file.name + ".corrupt")
    assert await asyncio.to_thread(aside.read_text) == "{not json"


async def test_time_must_be_aware(flow: SolarFlow, hold_file: Path) -> None:
    with pytest.raises(ValueError):
        await Holder(flow, hold_file).hold(LEASE, datetime(2025, 6, 1, 18, 0))


async def test_a_device_that_reboots_mid_hold_is_held_again(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    state.properties["minSoc"] = 150  # smartMode=1 values are lost: flash values return
    assert await holder.keep((await flow.report()).properties) is True
    assert state.properties["minSoc"] == 1000
    assert saved_on_disk(hold_file) == {"min_soc": 15.0, "output_limit": 800.0, "smart_mode": 1}
    assert await holder.keep((await flow.report()).properties) is False
    await holder.release(at(1))
    assert state.properties["minSoc"] == 150


async def test_keep_re_applies_the_output_limit_route(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.min_soc_above_50 = "ignored"
    holder = Holder(flow, hold_file)
    assert await holder.hold(LEASE, T0) is HoldRoute.OUTPUT_LIMIT
    state.properties["outputLimit"] = 800
    assert await holder.keep((await flow.report()).properties) is True
    assert state.properties["outputLimit"] == 0


async def test_keep_leaves_an_unheld_device_alone(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    assert await holder.keep((await flow.report()).properties) is False
    assert state.writes == []


async def test_hold_saves_a_fresh_poll_without_reading_again(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    polled = (await flow.report()).properties
    state.properties["minSoc"] = 200  # changed in the vendor's app after the poll
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0, known=polled)
    assert saved_on_disk(hold_file) == {"min_soc": 15.0, "output_limit": 800.0, "smart_mode": 1}


async def test_an_owner_at_smart_mode_0_gets_it_back_with_one_flash_write(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.properties["smartMode"] = 0
    before = state.writable()
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    assert state.properties["smartMode"] == 1  # the hold itself lives in RAM
    assert state.flash_writes == 0
    assert saved_on_disk(hold_file) == {"min_soc": 15.0, "output_limit": 800.0, "smart_mode": 0}
    assert await holder.release(at(10)) is Release.RESTORED
    assert state.writable() == before
    assert state.flash_writes == 1


async def test_lease_expiry_restores_smart_mode_too(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.properties["smartMode"] = 0
    before = state.writable()
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    assert await holder.expire(at(LEASE)) is True
    assert state.writable() == before
    assert state.flash_writes == 1


async def test_a_version_1_record_still_loads_and_restores_in_ram(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    state.properties.update(minSoc=1000, outputLimit=800)  # held by the older bridge
    record = {
        "version": 1,
        "saved": {"min_soc": 15.0, "output_limit": 800.0},
        "route": "min_soc",
        "since": T0.isoformat(),
        "expires": at(LEASE).isoformat(),
    }
    await asyncio.to_thread(hold_file.write_text, json.dumps(record))
    holder = Holder(flow, hold_file)
    assert holder.held and holder.route is HoldRoute.MIN_SOC
    assert holder.saved is not None and holder.saved.smart_mode is None
    assert await holder.release(at(10)) is Release.RESTORED
    assert state.properties["minSoc"] == 150
    assert state.writes[-1]["properties"]["smartMode"] == 1  # the owner's mode is unknown
    assert state.flash_writes == 0


@pytest.mark.parametrize("held", [True, False])
async def test_settings_the_device_would_refuse_are_refused_first(
    state: ZendureState, flow: SolarFlow, hold_file: Path, held: bool
) -> None:
    holder = Holder(flow, hold_file)
    if held:
        await holder.hold(LEASE, T0)
    before, writes, record = state.writable(), len(state.writes), on_disk(hold_file)
    with pytest.raises(CommandError, match="0-50 %"):
        await holder.set_min_soc(60, at(1))
    with pytest.raises(CommandError, match="0-2400 W"):
        await holder.set_output_limit(2500, at(2))  # above the unit's inverseMaxPower
    assert state.writable() == before
    assert len(state.writes) == writes
    assert on_disk(hold_file) == record
    assert await holder.set_min_soc(50, at(3)) in (Setting.APPLIED, Setting.DEFERRED)
    assert await holder.set_output_limit(2400, at(4)) in (Setting.APPLIED, Setting.DEFERRED)


async def write_record(path: Path, saved: dict[str, Any], route: str = "output_limit") -> None:
    """A hold record as an earlier run left it."""
    record = {
        "version": 2,
        "saved": saved,
        "route": route,
        "since": T0.isoformat(),
        "expires": at(LEASE).isoformat(),
    }
    await asyncio.to_thread(path.write_text, json.dumps(record))


@pytest.fixture
async def refused_restore(state: ZendureState, hold_file: Path) -> None:
    """Held by output limit on firmware that answers 400 to minSoc above 50 %, with a saved
    minSoc of 60 % (deferred, unchecked, by an older bridge)."""
    state.min_soc_above_50 = "refused"
    state.properties.update(outputLimit=0, minSoc=150)
    await write_record(hold_file, {"min_soc": 60.0, "output_limit": 800.0, "smart_mode": 1})


@pytest.mark.usefixtures("refused_restore")
async def test_a_refused_setting_does_not_keep_the_others_off_the_device(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file, fallback_min_soc=10)
    with pytest.raises(NotAppliedError, match="attempt 1 of 3"):
        await holder.release(at(10))
    assert state.properties["outputLimit"] == 800  # no longer held
    assert holder.held and on_disk(hold_file) is not None
    writes = len(state.writes)
    with pytest.raises(NotAppliedError, match="attempt 2 of 3"):
        await holder.release(at(11))
    assert [w["properties"] for w in state.writes[writes:]] == [{"smartMode": 1, "minSoc": 600}]


@pytest.mark.usefixtures("refused_restore")
async def test_a_restore_refused_to_the_end_writes_the_fallback_and_says_so(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file, fallback_min_soc=10)
    for attempt in range(2):
        with pytest.raises(NotAppliedError):
            await holder.release(at(10 + attempt))
    assert await holder.release(at(12)) is Release.SUBSTITUTED
    assert state.properties["minSoc"] == 100  # the fallback, 10 %
    assert state.properties["outputLimit"] == 800
    assert not holder.held and on_disk(hold_file) is None
    (event,) = holder.outbox.take()
    assert (event.kind, event.code) == (EventKind.ERROR, "restore_failed")
    assert event.data == {"refused": {"min_soc": 60.0}, "written": {"min_soc": 10.0}, "left": []}
    assert "minSoc 600 out of range 0-500" in event.reason


@pytest.mark.usefixtures("refused_restore")
async def test_a_refused_restore_at_lease_end_ends_within_the_attempts(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file, fallback_min_soc=10)
    for poll in range(2):
        with pytest.raises(NotAppliedError):
            await holder.expire(at(LEASE + poll))
    assert await holder.expire(at(LEASE + 2)) is True
    assert not holder.held
    failed, expired = holder.outbox.take()
    assert failed.code == "restore_failed"
    assert (expired.kind, expired.code) == (EventKind.NOTICE, "lease_expired")
    assert expired.data is not None
    assert expired.data["restored"] == {"min_soc": 10.0, "output_limit": 800.0}


async def test_lease_expiry_is_a_notice_with_what_was_restored(
    flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    assert holder.outbox.take() == []
    assert await holder.expire(at(LEASE)) is True
    (event,) = holder.outbox.take()
    assert (event.kind, event.code) == (EventKind.NOTICE, "lease_expired")
    assert event.data == {
        "restored": {"min_soc": 15.0, "output_limit": 800.0},
        "expired": at(LEASE).isoformat(),
    }
    await holder.hold(LEASE, at(100))
    await holder.release(at(110))
    assert holder.outbox.take() == []  # a release asked for is answered, not noticed


async def failed_release(flow: SolarFlow, fake: FakeZendure, hold_file: Path) -> Holder:
    """A hold whose release the device failed at 10 s (HTTP 500); the device fails on."""
    holder = Holder(flow, hold_file)
    await holder.hold(LEASE, T0)
    fake.faults.status_500 = True
    with pytest.raises(DeviceResponseError):
        await holder.release(at(10))
    return holder


async def test_a_failed_release_is_tried_again_on_the_next_poll(
    state: ZendureState, fake: FakeZendure, flow: SolarFlow, hold_file: Path
) -> None:
    holder = await failed_release(flow, fake, hold_file)
    assert (on_disk(hold_file) or {})["release_requested"] is True
    with pytest.raises(DeviceResponseError):
        await holder.expire(at(11))  # long before the lease ends
    fake.faults.status_500 = False
    assert Holder(flow, hold_file).held  # a restart still owes it
    assert await holder.expire(at(12)) is True
    assert state.properties["minSoc"] == 150
    assert not holder.held and on_disk(hold_file) is None
    assert holder.outbox.take() == []  # asked for, not a lease that ran out


async def test_a_hold_after_a_failed_release_holds_again(
    state: ZendureState, fake: FakeZendure, flow: SolarFlow, hold_file: Path
) -> None:
    holder = await failed_release(flow, fake, hold_file)
    fake.faults.status_500 = False
    assert await holder.hold(LEASE, at(11)) is HoldRoute.MIN_SOC
    assert await holder.expire(at(12)) is False
    assert state.properties["minSoc"] == 1000
    assert (on_disk(hold_file) or {})["release_requested"] is False


@pytest.mark.usefixtures("refused_restore")
async def test_a_setting_sent_while_a_restore_is_refused_is_the_one_restored(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    holder = Holder(flow, hold_file, fallback_min_soc=10)
    with pytest.raises(NotAppliedError):
        await holder.release(at(10))
    assert await holder.set_min_soc(20, at(11)) is Setting.DEFERRED
    assert await holder.expire(at(12)) is True  # the owed release, now with a value it takes
    assert (state.properties["minSoc"], state.properties["outputLimit"]) == (200, 800)
    assert holder.outbox.take() == []


async def test_a_refused_output_limit_with_no_fallback_ends_at_the_units_own_cap(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    """Held by output limit 0 (this firmware ignores minSoc above 50 %), the owner lowers the
    unit's cap in the app to 800 W mid-hold, so the saved 1200 W is refused at every restore.
    With no output-limit fallback configured, the battery stayed at 0 W: held for good."""
    state.min_soc_above_50 = "ignored"
    state.properties.update(outputLimit=1200)
    holder = Holder(flow, hold_file)
    assert await holder.hold(LEASE, T0) is HoldRoute.OUTPUT_LIMIT
    state.properties.update(inverseMaxPower=800)
    for attempt in range(2):
        with pytest.raises(NotAppliedError):
            await holder.release(at(10 + attempt))
    assert await holder.release(at(12)) is Release.SUBSTITUTED
    assert state.properties["outputLimit"] == 800
    assert not holder.held
    (event,) = holder.outbox.take()
    assert event.code == "restore_failed"
    assert event.data == {
        "refused": {"output_limit": 1200.0},
        "written": {"output_limit": 800.0},
        "left": [],
    }


async def test_a_fallback_above_the_units_cap_gives_way_to_the_cap(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    """As above, with a 5000 W output-limit fallback: the unit takes at most its cap (800 W
    now), so the fallback is not written, and the cap ends the restore. Before, the refused
    fallback raised on every release after the third and the unit stayed at 0 W, held."""
    state.min_soc_above_50 = "ignored"
    state.properties.update(outputLimit=1200)
    holder = Holder(flow, hold_file, fallback_output_limit=5000)
    assert await holder.hold(LEASE, T0) is HoldRoute.OUTPUT_LIMIT
    state.properties.update(inverseMaxPower=800)
    for attempt in range(2):
        with pytest.raises(NotAppliedError):
            await holder.release(at(10 + attempt))
    assert await holder.release(at(12)) is Release.SUBSTITUTED
    assert state.properties["outputLimit"] == 800
    assert not holder.held and on_disk(hold_file) is None
    assert 5000 not in [w["properties"].get("outputLimit") for w in state.writes]
    (event,) = holder.outbox.take()
    assert (event.kind, event.code) == (EventKind.ERROR, "restore_failed")
    assert event.data == {
        "refused": {"output_limit": 1200.0},
        "written": {"output_limit": 800.0},
        "left": [],
    }
    assert "fallback output_limit 5000 W, outside what this SolarFlow takes" in event.reason


async def test_a_lost_hold_with_a_fallback_above_the_cap_is_released_at_the_cap(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    """No record, the unit at outputLimit 0 (a lost hold), a fallback the unit would refuse:
    the release writes the unit's cap instead of failing at every try."""
    state.properties.update(outputLimit=0, inverseMaxPower=800)
    holder = Holder(flow, hold_file, fallback_output_limit=5000)
    assert await holder.release(T0) is Release.FALLBACK
    assert state.properties["outputLimit"] == 800


async def test_a_refused_restore_for_an_owner_at_smart_mode_0_costs_two_flash_writes(
    state: ZendureState, flow: SolarFlow, hold_file: Path
) -> None:
    """What the device page says: the settings written one by one after a refusal, and the
    fallback, each carry the owner's smartMode 0, so the restore that ends in a fallback costs
    one flash write for the setting the unit took and one for the fallback."""
    state.min_soc_above_50 = "refused"
    state.properties.update(outputLimit=0, minSoc=150, smartMode=0)
    await write_record(hold_file, {"min_soc": 60.0, "output_limit": 800.0, "smart_mode": 0})
    holder = Holder(flow, hold_file, fallback_min_soc=10)
    for attempt in range(2):
        with pytest.raises(NotAppliedError):
            await holder.release(at(10 + attempt))
    assert await holder.release(at(12)) is Release.SUBSTITUTED
    assert (state.properties["minSoc"], state.properties["outputLimit"]) == (100, 800)
    assert state.properties["smartMode"] == 0
    assert state.flash_writes == 2
