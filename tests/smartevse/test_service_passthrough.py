"""The battery passthrough through the broker: the battery's state in, `Set/HomeBatteryCurrent`
out by the configured policy, repeated while the state is fresh, and in Solar mode the fake
charger subtracts it from the mains as its firmware does."""

from __future__ import annotations

import pytest
from wattbus_simulator.fake_smartevse import SmartEvse

from .conftest import BATTERY, FEED, MakeRig

BATTERY_ID = "zendure"


@pytest.mark.parametrize(
    ("settings", "power", "sent"),
    [
        ({}, 2300.0, "100"),
        ({}, -2300.0, "-100"),
        ({"passthrough": "discharge_only"}, 2300.0, "0"),
        ({"passthrough": "discharge_only"}, -2300.0, "-100"),
        ({"passthrough": "reserve", "reserve": 4}, 2300.0, "60"),
        ({"passthrough": "reserve", "reserve": 4}, 460.0, "-20"),
        ({"passthrough": "reserve", "reserve": 4}, -2300.0, "-140"),
    ],
)
async def test_each_policy_sends_what_the_readme_says(
    make_rig: MakeRig, settings: dict[str, object], power: float, sent: str
) -> None:
    rig = await make_rig(battery=BATTERY_ID, **settings)
    await rig.battery_state(power)
    msg = await rig.obs.wait_for(BATTERY)
    assert msg.text == sent
    await rig.taken(msg)
    taken = rig.charger.received[-1]
    assert (taken.topic, taken.applied) == ("HomeBatteryCurrent", True)
    state = await rig.obs.wait_for(FEED, lambda m: "passthrough_current" in m.json)
    assert state.json["passthrough_current"] == int(sent) / 10
    assert state.json["passthrough"] == settings.get("passthrough", "as_is")


async def test_a_steady_battery_is_sent_again_every_5_s(make_rig: MakeRig) -> None:
    rig = await make_rig(battery=BATTERY_ID)
    await rig.battery_state(2300.0)
    first = await rig.obs.wait_for(BATTERY)
    await rig.taken(first)
    await rig.barrier()  # nothing else that could wake the bridge is on its way
    rig.clock.advance(5)
    again = await rig.obs.wait_for(BATTERY, after=rig.obs.messages.index(first) + 1)
    assert again.text == first.text == "100"


async def test_in_solar_mode_the_charger_counts_the_battery_against_the_mains(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig(battery=BATTERY_ID, evse=SmartEvse(mode="Solar"))
    await rig.taken(await rig.feeding())
    assert rig.charger.evse.mains == [30, 20, -50]
    await rig.battery_state(2300.0)  # charging at 10 A
    await rig.taken(await rig.obs.wait_for(BATTERY))
    rig.clock.advance(1)
    mark = rig.obs.mark()
    await rig.reading()
    await rig.taken(await rig.obs.wait_for("SmartEVSE/garage/Set/MainsMeter", after=mark))
    assert rig.charger.evse.mains == [30 - 33, 20 - 33, -50 - 33]  # a third of 100 dA each


async def test_a_stale_or_offline_battery_is_not_sent(make_rig: MakeRig) -> None:
    rig = await make_rig(battery=BATTERY_ID)
    await rig.battery_state(2300.0)
    await rig.obs.wait_for(BATTERY)
    await rig.barrier()
    mark = rig.obs.mark()
    rig.clock.advance(30)  # battery_max_age: the state is stale, its repeats stop
    await rig.obs.wait_for(FEED, lambda m: "passthrough_current" not in m.json, after=mark)
    mark = rig.obs.mark()
    rig.clock.advance(5)
    await rig.barrier()
    assert rig.sent(BATTERY, mark) == []
    await rig.battery.publish("wattbus/zendure/availability", "offline", qos=1, retain=True)
    await rig.battery_state(-2300.0)  # fresh, but from a battery that said it is offline
    await rig.barrier()
    assert rig.sent(BATTERY, mark) == []
