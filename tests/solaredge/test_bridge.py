"""The SolarEdge bridge end to end: the fake inverter over Modbus TCP, the bridge's two devices
publishing through a real Mosquitto, as the meter's and the battery's own MQTT users."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from support.broker import Broker
from support.mqtt import WAIT, Msg, Observer, bus_settings, observer, running
from wattbus.service import ConfigError
from wattbus.stopping import run_together
from wattbus_simulator.fake_solaredge import METER, METER_COUNT, FakeSolarEdge
from wattbus_solaredge.client import SolarEdge
from wattbus_solaredge.service import Bridges, bridges, serve
from wattbus_solaredge.settings import SolarEdgeSettings

HOUR = 3600.0  # s: a poll tick that never comes within the test; the test polls by hand
METER_ID, BATTERY_ID = "solaredge-meter", "solaredge-battery"
STATE = f"wattbus/{METER_ID}/state"
BATTERY_STATE = f"wattbus/{BATTERY_ID}/state"


def live(m: Msg) -> bool:
    return not m.retain


def settings(fake: FakeSolarEdge, broker: Broker) -> SolarEdgeSettings:
    return SolarEdgeSettings.only(
        host="127.0.0.1",
        port=fake.port,
        poll_interval=HOUR,
        battery_mqtt_password=f"pw-{BATTERY_ID}",
    )


@pytest.fixture
async def client(fake: FakeSolarEdge) -> AsyncIterator[SolarEdge]:
    c = SolarEdge("127.0.0.1", port=fake.port)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def pair(fake: FakeSolarEdge, broker: Broker, client: SolarEdge) -> AsyncIterator[Bridges]:
    """Both bridges with their buses connected; their loops are not run: tests poll."""
    made = bridges(settings(fake, broker), bus_settings(broker, METER_ID, discovery=False), client)
    meter, battery = made
    assert battery is not None
    async with running(run_together(meter.bus.run(), battery.bus.run())):
        async with asyncio.timeout(WAIT):
            await meter.bus.connected.wait()
            await battery.bus.connected.wait()
        yield made


async def poll(obs: Observer, pair: Bridges, topic: str) -> Msg:
    mark = obs.mark()
    meter, battery = pair
    assert battery is not None
    await meter.poll()
    await battery.poll()
    return await obs.wait_for(topic, live, after=mark)


async def test_meter_and_battery_in_wattbus_signs(broker: Broker, pair: Bridges) -> None:
    async with observer(broker) as obs:
        meter = (await poll(obs, pair, STATE)).json
        battery = (await obs.wait_for(BATTERY_STATE, live)).json
    # the fake's house imports 1000 W, which SolarEdge's meter sends as -1000 (export > 0)
    assert (meter["power"], meter["power_l1"]) == (1000.0, 400.0)
    assert meter["current_l1"] == pytest.approx(400 / 230, abs=0.01)
    assert (meter["energy_import"], meter["energy_export"]) == (4_200_000.0, 1_900_000.0)
    assert (battery["power"], battery["soc"]) == (500.0, 55.0)  # charging
    assert (battery["pv_power"], battery["output_home_power"]) == (3100.0, 2500.0)


async def test_readings_hold_while_the_scale_factors_change(
    broker: Broker, fake: FakeSolarEdge, pair: Bridges
) -> None:
    fake.readings.grid_power = [1230.0, 0.0, 0.0]
    async with observer(broker) as obs:
        powers = {(await poll(obs, pair, STATE)).json["power"] for _ in range(4)}
    assert powers == {1230.0}
    assert len(fake.power_scale_factors) == 3  # sent as 12300 x 10^-1, 1230 x 10^0, 123 x 10
    meter_reads = [r for r in fake.reads if r[0] == METER]
    assert meter_reads == [(METER, METER_COUNT)] * 4  # value and factor: one request


async def test_both_devices_share_one_connection(
    fake: FakeSolarEdge, broker: Broker, pair: Bridges
) -> None:
    async with observer(broker) as obs:
        for _ in range(3):
            await poll(obs, pair, STATE)
    assert fake.connections == 1


async def test_a_dropped_connection_is_opened_again_without_going_offline(
    broker: Broker, fake: FakeSolarEdge, pair: Bridges
) -> None:
    async with observer(broker) as obs:
        await poll(obs, pair, STATE)
        fake.drop_connections()
        fake.readings.grid_power = [-700.0, 0.0, 0.0]
        assert (await poll(obs, pair, STATE)).json["power"] == -700.0
        assert fake.connections == 2
        assert not [
            m
            for m in obs.messages
            if m.topic.endswith("/availability") and m.text == "offline" and live(m)
        ]


async def test_a_value_not_implemented_is_left_out_never_zero(
    broker: Broker, fake: FakeSolarEdge, pair: Bridges
) -> None:
    fake.readings.missing = {"power_l2", "energy_export"}
    async with observer(broker) as obs:
        meter = (await poll(obs, pair, STATE)).json
    assert "power_l2" not in meter and "energy_export" not in meter
    assert meter["power_l1"] == 400.0


async def test_a_meter_without_its_total_goes_offline_and_comes_back(
    broker: Broker, fake: FakeSolarEdge, pair: Bridges
) -> None:
    meter, _ = pair
    async with observer(broker) as obs:
        await poll(obs, pair, STATE)
        fake.readings.missing = {"grid_power_sf"}
        mark = obs.mark()
        assert not await meter.poll()
        event = await obs.wait_for(f"wattbus/{METER_ID}/event", after=mark)
        assert event.json["kind"] == "error" and "no total power" in event.json["reason"]
        await obs.wait_for(
            f"wattbus/{METER_ID}/availability", lambda m: m.text == "offline", after=mark
        )
        fake.readings.missing = set()
        assert await meter.poll()
        await obs.wait_for(
            f"wattbus/{METER_ID}/availability", lambda m: m.text == "online", after=mark
        )


async def test_a_refused_read_is_an_error_event(
    broker: Broker, fake: FakeSolarEdge, pair: Bridges
) -> None:
    _, battery = pair
    assert battery is not None
    fake.refuse = True
    async with observer(broker) as obs:
        assert not await battery.poll()
        event = await obs.wait_for(f"wattbus/{BATTERY_ID}/event")
    assert "refused" in event.json["reason"]


async def test_the_inverters_status_changes_are_events(
    broker: Broker, fake: FakeSolarEdge, pair: Bridges
) -> None:
    _, battery = pair
    assert battery is not None
    topic = f"wattbus/{BATTERY_ID}/event"
    async with observer(broker) as obs:
        assert await battery.poll()
        fake.readings.inverter_status = 5
        assert await battery.poll()
        notice = await obs.wait_for(topic)
        fake.readings.inverter_status = 7
        assert await battery.poll()
        fault = await obs.wait_for(topic, lambda m: m.json["kind"] == "error")
    assert (notice.json["kind"], notice.json["code"], notice.json["reason"]) == (
        "notice", "inverter_status", "inverter throttled",
    )  # fmt: skip
    assert fault.json["data"] == {"status": 7, "name": "fault"}


async def test_a_command_is_rejected(broker: Broker, pair: Bridges) -> None:
    async with observer(broker) as obs:
        await obs.publish(f"wattbus/{METER_ID}/set", {"min_soc": 10})
        event = await obs.wait_for(f"wattbus/{METER_ID}/event")
    assert event.json["kind"] == "rejected"


async def test_the_battery_needs_its_own_login(
    fake: FakeSolarEdge, broker: Broker, client: SolarEdge
) -> None:
    s = SolarEdgeSettings.only(host="127.0.0.1", port=fake.port)
    with pytest.raises(ConfigError, match="WATTBUS_SOLAREDGE_BATTERY_MQTT_PASSWORD"):
        bridges(s, bus_settings(broker, METER_ID), client)


def test_the_meter_and_the_battery_need_their_own_ids() -> None:
    with pytest.raises(ValueError, match="battery_id"):
        SolarEdgeSettings.only(host="127.0.0.1", battery_id=METER_ID)


async def test_the_service_publishes_both_devices_and_their_entities(
    broker: Broker, fake: FakeSolarEdge
) -> None:
    s = SolarEdgeSettings.only(
        host="127.0.0.1", port=fake.port, battery_mqtt_password=f"pw-{BATTERY_ID}"
    )
    async with observer(broker) as obs, running(serve(s, bus_settings(broker, METER_ID))):
        await obs.wait_for(STATE, live)
        await obs.wait_for(BATTERY_STATE, live)
        meter = await obs.wait_for(f"homeassistant/device/{METER_ID}/config")
        battery = await obs.wait_for(f"homeassistant/device/{BATTERY_ID}/config")
        for device_id in (METER_ID, BATTERY_ID):
            await obs.wait_for(f"wattbus/{device_id}/availability", lambda m: m.text == "online")
    assert "power" in meter.json["cmps"] and "soc" in battery.json["cmps"]
    assert fake.connections == 1


async def test_an_unreachable_inverter_is_offline_with_one_error(
    broker: Broker, pair: Bridges, fake: FakeSolarEdge
) -> None:
    meter, _ = pair
    await fake.close()
    async with observer(broker) as obs:
        assert not await meter.poll()
        assert not await meter.poll()
        event = await obs.wait_for(f"wattbus/{METER_ID}/event")
        await obs.wait_for(f"wattbus/{METER_ID}/availability", lambda m: m.text == "offline")
    assert event.json["kind"] == "error" and "cannot connect" in event.json["reason"]
    assert len([m for m in obs.messages if m.topic.endswith("/event")]) == 1
