"""The fake Shelly's own MQTT client publishes as the device does, through the real Mosquitto
and its ACL, logged in as the Shelly devices' user."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.broker import Broker
from support.mqtt import observer
from support.shelly_push import EM, EMDATA, ONLINE
from wattbus_simulator.fake_shelly import ShellyPro3EMState, em_status, emdata_status
from wattbus_simulator.fake_shelly_mqtt import FakeShellyMqtt, moved


async def test_on_connect_it_says_online_and_pushes_the_em_status(
    own_broker: Broker, device: FakeShellyMqtt, state: ShellyPro3EMState
) -> None:
    async with observer(own_broker) as obs:
        await device.start()
        online = await obs.wait_for(ONLINE)
        em = await obs.wait_for(EM)

    assert online.text == "true"
    assert em.json == em_status(state)  # the very object EM.GetStatus answers over HTTP
    assert not em.retain
    assert not any(m.topic == EMDATA for m in obs.messages)  # energy: once a minute


async def test_a_change_within_10_w_and_5_percent_is_not_pushed_a_larger_one_is(
    own_broker: Broker, device: FakeShellyMqtt, state: ShellyPro3EMState
) -> None:
    async with observer(own_broker) as obs:
        await device.start()
        await obs.wait_for(EM)
        mark = obs.mark()
        state.phases[0].act_power += 5  # 812.4 -> 817.4 W; the total -497.1 -> -492.1 W
        small = await device.report()
        state.phases[0].act_power += 45  # 862.4 W: 50 W and 6 % from the last push
        pushed = await obs.wait_for(EM, lambda m: m.json["a_act_power"] == 862.4, after=mark)

    assert small is False
    assert [m for m in obs.messages[mark:] if m.topic == EM] == [pushed]


@pytest.mark.parametrize(
    ("before", "after", "pushed"),
    [
        (1000.0, 1009.0, False),  # 9 W, 0.9 %
        (1000.0, 1011.0, True),  # more than 10 W
        (100.0, 106.0, True),  # more than 5 %
        (-1000.0, -1040.0, True),  # export counts the same
        (0.0, 0.0, False),
    ],
)
def test_the_threshold_is_10_w_or_5_percent_of_the_last_push(
    before: float, after: float, pushed: bool
) -> None:
    last = {"a_act_power": before, "b_act_power": 0.0, "c_act_power": 0.0}
    now = {"a_act_power": after, "b_act_power": 0.0, "c_act_power": 0.0}

    assert moved(last | {"total_act_power": before}, now | {"total_act_power": after}) is pushed


async def test_it_pushes_periodically_without_a_change_and_energy_on_its_own_clock(
    own_broker: Broker,
    make_device: Callable[..., FakeShellyMqtt],
    state: ShellyPro3EMState,
) -> None:
    fake = make_device(periodic=0.2, energy_every=0.2)
    async with observer(own_broker) as obs:
        await fake.start()
        first = await obs.wait_for(EM)
        again = await obs.wait_for(EM, after=obs.messages.index(first) + 1)
        energy = await obs.wait_for(EMDATA)

    assert again.json == first.json
    assert energy.json == emdata_status(state)


async def test_stop_says_false_retained_and_start_says_true_again(
    own_broker: Broker, device: FakeShellyMqtt
) -> None:
    await device.start()
    await device.stop()
    async with observer(own_broker) as obs:
        gone = await obs.wait_for(ONLINE)
        await device.start()
        back = await obs.wait_for(ONLINE, lambda m: m.text == "true")

    assert (gone.text, gone.retain) == ("false", True)  # what a new subscriber sees
    assert back.text == "true"
