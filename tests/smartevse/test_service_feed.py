"""The mains feed through the broker: the meter's states in, `Set/MainsMeter` out to the fake
charger, which takes them as its firmware does; the feed stops when the meter goes stale or
offline and the charger then stops by its own timeout; a meter too slow to feed from is
refused at start-up."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from support.broker import Broker, password
from support.mqtt import WAIT, observer
from wattbus.models import MeterState, utcnow
from wattbus_simulator.fake_smartevse import COMM_TIMEOUT
from wattbus_simulator.processes import ServiceProcess, bus_env
from wattbus_smartevse.service import METER_TOO_SLOW, MeterTooSlow

from .conftest import BRIDGE_USER, END, EVENTS, FEED, MAINS, PREFIX, MakeRig


async def test_the_second_reading_is_fed_in_the_firmwares_format(make_rig: MakeRig) -> None:
    rig = await make_rig()
    await rig.meter_says("online")
    await rig.reading(current_l1=1.0, power_l1=230.0)  # not fed: the meter is not judged yet
    rig.clock.advance(1)
    mark = rig.obs.mark()
    await rig.reading()
    await rig.obs.wait_for(MAINS, after=mark)
    await rig.obs.wait_for(END, after=mark)  # the charger answers every Set/ at once
    assert rig.sent(MAINS) == ["30:20:-50"]
    taken = rig.charger.received[-1]
    assert (taken.topic, taken.applied) == ("MainsMeter", True)
    assert rig.charger.evse.mains == [30, 20, -50]
    state = await rig.obs.wait_for(FEED, lambda m: m.json["feed_active"])
    assert state.json["split"] is False
    assert state.json["meter"] == "grid-meter"


async def test_five_fields_for_the_dingo_firmware(make_rig: MakeRig) -> None:
    rig = await make_rig(five_fields=True)
    await rig.meter_says("online")
    await rig.reading(energy_import=1520.4)
    rig.clock.advance(1)
    await rig.reading(energy_import=1520.6)
    msg = await rig.obs.wait_for(MAINS)
    assert msg.text == "30:20:-50:0:1521"


async def test_a_stale_meter_stops_the_feed_and_the_charger_times_out(make_rig: MakeRig) -> None:
    rig = await make_rig()
    await rig.charger.plug(True)
    await rig.feeding()
    assert rig.charger.evse.state_id == "C"
    mark = rig.obs.mark()
    rig.clock.advance(5)  # the reading fed is now 5 s old, and no other came
    await rig.obs.wait_for(FEED, lambda m: m.json["feed_active"] is False, after=mark)
    await rig.ticks(COMM_TIMEOUT)  # the last feed holds the charger this long
    assert (rig.charger.evse.comm_error, rig.charger.evse.state_id) == (False, "C")
    mark = rig.obs.mark()
    await rig.ticks(1)
    await rig.obs.wait_for(f"{PREFIX}/Error", lambda m: m.text == "Communication Error", after=mark)
    assert rig.charger.evse.state_id == "C1"  # the car is told to stop
    assert rig.sent(MAINS) == ["30:20:-50"]


async def test_a_meter_too_slow_to_feed_from_stops_the_bridge(make_rig: MakeRig) -> None:
    rig = await make_rig(run=False)
    task = asyncio.create_task(rig.bridge.run())
    await rig.meter_says("online")
    await rig.reading(age=8)  # its retained reading, and the next 8 s later
    await rig.reading()
    with pytest.raises(MeterTooSlow) as refused:
        await asyncio.wait_for(task, WAIT)
    assert str(refused.value) == (
        "WATTBUS_SMARTEVSE_METER: meter grid-meter is read every 8 s, longer than the 5 s a "
        "reading stays fresh: too slow to feed the charger (WATTBUS_SMARTEVSE_METER_MAX_AGE=5)"
    )
    event = await rig.obs.wait_for(EVENTS, lambda m: m.json.get("code") == METER_TOO_SLOW)
    assert event.json["kind"] == "error"
    assert rig.sent(MAINS) == []


async def test_wattbus_run_exits_2_with_one_line_for_a_too_slow_meter(
    own_broker: Broker, tmp_path: Path
) -> None:
    env = bus_env(own_broker.port, BRIDGE_USER, password(BRIDGE_USER))
    env["WATTBUS_SMARTEVSE_PREFIX"] = PREFIX
    service = ServiceProcess("smartevse", env, tmp_path)
    async with observer(own_broker) as obs, observer(own_broker, "grid-meter") as meter:
        now = utcnow()
        await meter.client.publish("wattbus/grid-meter/availability", "online", retain=True)
        for age in (300, 0):  # a meter read every 5 minutes: its retained reading, then the next
            if age == 0:
                service.start()
                await obs.wait_for(FEED)  # subscribed by now
            state = MeterState(ts=now - timedelta(seconds=age), power=0)
            await meter.client.publish(
                "wattbus/grid-meter/state", state.model_dump_json(), qos=1, retain=True
            )
        assert service.process is not None
        code = await asyncio.to_thread(service.process.wait, WAIT)
    assert code == 2
    lines = [x for x in service.log.read_text().splitlines() if x.startswith("wattbus:")]
    assert lines == [
        "wattbus: smartevse: WATTBUS_SMARTEVSE_METER: meter grid-meter is read every 300 s, "
        "longer than the 5 s a reading stays fresh: too slow to feed the charger "
        "(WATTBUS_SMARTEVSE_METER_MAX_AGE=5)"
    ]


async def test_at_most_one_message_a_second_and_then_the_latest_reading(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig()
    await rig.feeding()
    mark = rig.obs.mark()
    rig.clock.advance(0.5)
    await rig.reading(current_l1=4.0, power_l1=920.0)  # half a second after the last feed
    await rig.barrier()
    assert rig.sent(MAINS, mark) == []
    await rig.reading(current_l1=5.0, power_l1=1150.0)  # a newer one, still in that second
    await rig.barrier()
    rig.clock.advance(0.5)  # the second is over: the latest reading goes
    fed = await rig.obs.wait_for(MAINS, after=mark)
    assert fed.text == "50:20:-50"
    await rig.barrier()
    assert rig.sent(MAINS, mark) == ["50:20:-50"]
    state = await rig.obs.wait_for(
        FEED, lambda m: m.json.get("last_feed") == "2026-12-01T12:00:02Z"
    )
    assert state.json["feed_active"]


async def test_a_stale_reading_is_never_fed(make_rig: MakeRig) -> None:
    rig = await make_rig()
    await rig.feeding()
    mark = rig.obs.mark()
    rig.clock.advance(1)
    await rig.reading(age=5)  # as old as the limit
    await rig.barrier()
    assert rig.sent(MAINS, mark) == []


async def test_an_offline_meter_stops_the_feed_at_once(make_rig: MakeRig) -> None:
    rig = await make_rig()
    await rig.charger.plug(True)
    await rig.feeding()
    mark = rig.obs.mark()
    await rig.meter_says("offline")
    await rig.obs.wait_for(FEED, lambda m: m.json["feed_active"] is False, after=mark)
    rig.clock.advance(1)
    await rig.reading()  # fresh, but from a meter that said it is offline
    await rig.barrier()
    assert rig.sent(MAINS, mark) == []
    await rig.ticks(COMM_TIMEOUT + 1)
    assert rig.charger.evse.comm_error


async def test_a_meter_offline_at_start_up_is_judged_when_it_is_back(make_rig: MakeRig) -> None:
    rig = await make_rig()
    await rig.meter_says("offline")
    await rig.reading(age=3600)  # what it left retained an hour ago
    await rig.barrier()
    mark = rig.obs.mark()
    await rig.meter_says("online")
    await rig.reading()  # not judged against the hour-old one: that was before the offline
    await rig.barrier()
    assert rig.sent(MAINS, mark) == []  # nothing before it is judged
    rig.clock.advance(1)
    await rig.reading()
    assert (await rig.obs.wait_for(MAINS, after=mark)).text == "30:20:-50"


async def test_a_bad_meter_state_is_reported_once_and_the_feed_goes_on(make_rig: MakeRig) -> None:
    rig = await make_rig()
    await rig.feeding()
    mark = rig.obs.mark()
    for _ in range(2):
        await rig.meter.publish("wattbus/grid-meter/state", b'{"power": true}', qos=1)
    await rig.barrier()
    errors = [m.json for m in rig.obs.messages[mark:] if m.topic == EVENTS
              and m.json["kind"] == "error"]  # fmt: skip
    assert len(errors) == 1
    assert errors[0]["topic"] == "wattbus/grid-meter/state"
    assert errors[0]["reason"].startswith("ignoring a bad state")
    rig.clock.advance(1)
    await rig.reading()
    await rig.obs.wait_for(MAINS, after=mark)
