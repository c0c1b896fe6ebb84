"""The SolarEdge bridge end to end: the fake inverter over Modbus TCP, the bridge's three devices
publishing through a real Mosquitto with the ACL, as the meter's, the battery's and the
inverter's own MQTT users."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiomqtt
import pytest
from support.broker import Broker, password
from support.mqtt import WAIT, Msg, Observer, bus_settings, observer, observing, running
from wattbus.service import ConfigError
from wattbus.stopping import run_together
from wattbus_simulator.fake_solaredge import (
    INVERTER,
    INVERTER_COUNT,
    METER,
    METER_COUNT,
    FakeSolarEdge,
)
from wattbus_solaredge.client import SolarEdge
from wattbus_solaredge.service import Bridges, bridges, serve
from wattbus_solaredge.settings import SolarEdgeSettings

HOUR = 3600.0  # s: a poll tick that never comes within the test; the test polls by hand
METER_ID, BATTERY_ID, INVERTER_ID = "solaredge-meter", "solaredge-battery", "solaredge-inverter"
STATE = f"wattbus/{METER_ID}/state"
BATTERY_STATE = f"wattbus/{BATTERY_ID}/state"
INVERTER_STATE = f"wattbus/{INVERTER_ID}/state"


def live(m: Msg) -> bool:
    return not m.retain


def settings(fake: FakeSolarEdge, broker: Broker) -> SolarEdgeSettings:
    return SolarEdgeSettings.only(
        host="127.0.0.1",
        port=fake.port,
        poll_interval=HOUR,
        battery_mqtt_password=password(BATTERY_ID),
        inverter_mqtt_password=password(INVERTER_ID),
    )


@pytest.fixture
async def client(fake: FakeSolarEdge) -> AsyncIterator[SolarEdge]:
    c = SolarEdge("127.0.0.1", port=fake.port)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def trio(fake: FakeSolarEdge, broker: Broker, client: SolarEdge) -> AsyncIterator[Bridges]:
    """The three bridges with their buses connected; their loops are not run: tests poll."""
    made = bridges(settings(fake, broker), bus_settings(broker, METER_ID, discovery=False), client)
    assert made.battery is not None and made.inverter is not None
    buses = [b.bus for b in made if b]
    async with running(run_together(*(bus.run() for bus in buses))):
        async with asyncio.timeout(WAIT):
            for bus in buses:
                await bus.connected.wait()
        yield made


async def poll(obs: Observer, trio: Bridges, topic: str) -> Msg:
    mark = obs.mark()
    for bridge in trio:
        assert bridge is not None
        await bridge.poll()
    return await obs.wait_for(topic, live, after=mark)


async def test_meter_and_battery_in_wattbus_signs(broker: Broker, trio: Bridges) -> None:
    async with observer(broker) as obs:
        meter = (await poll(obs, trio, STATE)).json
        battery = (await obs.wait_for(BATTERY_STATE, live)).json
    # the fake's house imports 1000 W, which SolarEdge's meter sends as -1000 (export > 0)
    assert (meter["power"], meter["power_l1"]) == (1000.0, 400.0)
    assert meter["current_l1"] == pytest.approx(400 / 230, abs=0.01)
    assert (meter["energy_import"], meter["energy_export"]) == (4_200_000.0, 1_900_000.0)
    assert (battery["power"], battery["soc"]) == (500.0, 55.0)  # charging
    assert (battery["pv_power"], battery["output_home_power"]) == (3100.0, 2500.0)


async def test_readings_hold_while_the_scale_factors_change(
    broker: Broker, fake: FakeSolarEdge, trio: Bridges
) -> None:
    fake.readings.grid_power = [1230.0, 0.0, 0.0]
    async with observer(broker) as obs:
        powers = {(await poll(obs, trio, STATE)).json["power"] for _ in range(4)}
    assert powers == {1230.0}
    assert len(fake.power_scale_factors) == 3  # sent as 12300 x 10^-1, 1230 x 10^0, 123 x 10
    meter_reads = [r for r in fake.reads if r[0] == METER]
    assert meter_reads == [(METER, METER_COUNT)] * 4  # value and factor: one request


async def test_both_devices_share_one_connection(
    fake: FakeSolarEdge, broker: Broker, trio: Bridges
) -> None:
    async with observer(broker) as obs:
        for _ in range(3):
            await poll(obs, trio, STATE)
    assert fake.connections == 1


async def test_a_dropped_connection_is_opened_again_without_going_offline(
    broker: Broker, fake: FakeSolarEdge, trio: Bridges
) -> None:
    async with observer(broker) as obs:
        await poll(obs, trio, STATE)
        fake.drop_connections()
        fake.readings.grid_power = [-700.0, 0.0, 0.0]
        assert (await poll(obs, trio, STATE)).json["power"] == -700.0
        assert fake.connections == 2
        assert not [
            m
            for m in obs.messages
            if m.topic.endswith("/availability") and m.text == "offline" and live(m)
        ]


async def test_a_value_not_implemented_is_left_out_never_zero(
    broker: Broker, fake: FakeSolarEdge, trio: Bridges
) -> None:
    fake.readings.missing = {"power_l2", "energy_export"}
    async with observer(broker) as obs:
        meter = (await poll(obs, trio, STATE)).json
    assert "power_l2" not in meter and "energy_export" not in meter
    assert meter["power_l1"] == 400.0


async def test_a_meter_without_its_total_goes_offline_and_comes_back(
    broker: Broker, fake: FakeSolarEdge, trio: Bridges
) -> None:
    meter = trio.meter
    async with observer(broker) as obs:
        await poll(obs, trio, STATE)
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
    broker: Broker, fake: FakeSolarEdge, trio: Bridges
) -> None:
    battery = trio.battery
    assert battery is not None
    fake.refuse = True
    async with observer(broker) as obs:
        assert not await battery.poll()
        event = await obs.wait_for(f"wattbus/{BATTERY_ID}/event")
    assert "refused" in event.json["reason"]


async def test_the_inverters_status_changes_are_events(
    broker: Broker, fake: FakeSolarEdge, trio: Bridges
) -> None:
    battery = trio.battery
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


@pytest.mark.parametrize("device_id", [METER_ID, BATTERY_ID, INVERTER_ID])
async def test_a_command_is_rejected(broker: Broker, trio: Bridges, device_id: str) -> None:
    async with observer(broker) as obs:
        await obs.publish(f"wattbus/{device_id}/set", {"min_soc": 10})
        event = await obs.wait_for(f"wattbus/{device_id}/event")
    assert event.json["kind"] == "rejected"
    assert event.json["reason"] == f"{device_id} takes no commands"


async def test_the_battery_needs_its_own_login(
    fake: FakeSolarEdge, broker: Broker, client: SolarEdge
) -> None:
    s = SolarEdgeSettings.only(host="127.0.0.1", port=fake.port)
    with pytest.raises(ConfigError, match="WATTBUS_SOLAREDGE_BATTERY_MQTT_PASSWORD"):
        bridges(s, bus_settings(broker, METER_ID), client)


async def test_the_inverter_needs_its_own_login(
    fake: FakeSolarEdge, broker: Broker, client: SolarEdge
) -> None:
    s = SolarEdgeSettings.only(host="127.0.0.1", port=fake.port, battery=0)
    with pytest.raises(ConfigError, match="WATTBUS_SOLAREDGE_INVERTER_MQTT_PASSWORD"):
        bridges(s, bus_settings(broker, METER_ID), client)


async def test_the_inverter_turned_off_is_no_device(
    fake: FakeSolarEdge, broker: Broker, client: SolarEdge
) -> None:
    s = SolarEdgeSettings.only(host="127.0.0.1", port=fake.port, battery=0, inverter=False)
    made = bridges(s, bus_settings(broker, METER_ID), client)  # and asks for no login
    assert (made.battery, made.inverter) == (None, None)


def test_the_meter_and_the_battery_need_their_own_ids() -> None:
    with pytest.raises(ValueError, match="battery_id"):
        SolarEdgeSettings.only(host="127.0.0.1", battery_id=METER_ID)


@pytest.mark.parametrize("taken", [METER_ID, BATTERY_ID])
def test_the_inverter_needs_an_id_of_its_own(taken: str) -> None:
    with pytest.raises(ValueError, match="inverter_id"):
        SolarEdgeSettings.only(host="127.0.0.1", inverter_id=taken)
    # turned off, its id is nobody's login
    SolarEdgeSettings.only(host="127.0.0.1", inverter_id=taken, inverter=False)


async def test_the_service_publishes_the_three_devices_and_their_entities(
    broker: Broker, fake: FakeSolarEdge
) -> None:
    s = SolarEdgeSettings.only(
        host="127.0.0.1", port=fake.port, battery_mqtt_password=password(BATTERY_ID),
        inverter_mqtt_password=password(INVERTER_ID),
    )  # fmt: skip
    async with observer(broker) as obs, running(serve(s, bus_settings(broker, METER_ID))):
        for topic in (STATE, BATTERY_STATE, INVERTER_STATE):
            await obs.wait_for(topic, live)
        meter = await obs.wait_for(f"homeassistant/device/{METER_ID}/config")
        battery = await obs.wait_for(f"homeassistant/device/{BATTERY_ID}/config")
        inverter = await obs.wait_for(
            f"homeassistant/device/{INVERTER_ID}/config", lambda m: "3-phase" in m.text
        )  # its model is learned at the first read
        for device_id in (METER_ID, BATTERY_ID, INVERTER_ID):
            await obs.wait_for(f"wattbus/{device_id}/availability", lambda m: m.text == "online")
    assert "power" in meter.json["cmps"] and "soc" in battery.json["cmps"]
    cmps = inverter.json["cmps"]
    assert set(cmps) == {"power", "dc_power", "energy", "status"}
    assert (cmps["energy"]["unit_of_measurement"], cmps["energy"]["state_class"]) == (
        "Wh", "total_increasing",
    )  # fmt: skip
    assert inverter.json["dev"]["model"] == "3-phase inverter"
    assert fake.connections == 1


async def test_an_unreachable_inverter_is_offline_with_one_error(
    broker: Broker, trio: Bridges, fake: FakeSolarEdge
) -> None:
    meter = trio.meter
    await fake.close()
    async with observer(broker) as obs:
        assert not await meter.poll()
        assert not await meter.poll()
        event = await obs.wait_for(f"wattbus/{METER_ID}/event")
        await obs.wait_for(f"wattbus/{METER_ID}/availability", lambda m: m.text == "offline")
    assert event.json["kind"] == "error" and "cannot connect" in event.json["reason"]
    assert len([m for m in obs.messages if m.topic.endswith("/event")]) == 1


async def test_the_inverter_in_wattbus_units(broker: Broker, trio: Bridges) -> None:
    async with observer(broker) as obs:
        inverter = (await poll(obs, trio, INVERTER_STATE)).json
    assert inverter | {"ts": None} == {
        "ts": None, "power": 2500.0, "dc_power": 2600.0, "energy": 9_000_000.0,
        "status_code": 4, "status": "producing",
    }  # fmt: skip


async def test_the_inverter_is_published_at_every_reading(broker: Broker, trio: Bridges) -> None:
    """Its `ts` is the last read, as the meter's: a steady inverter and a silent one differ."""
    inverter = trio.inverter
    assert inverter is not None
    async with observer(broker) as obs:
        mark = obs.mark()
        for _ in range(2):
            assert await inverter.poll()  # the same readings twice
        first = await obs.wait_for(INVERTER_STATE, live, after=mark)
        after_first = next(i for i, m in enumerate(obs.messages) if m is first) + 1
        second = await obs.wait_for(INVERTER_STATE, live, after=after_first)
    assert second.json["ts"] > first.json["ts"]


async def test_its_energy_grows_with_its_power_whatever_the_scale_factor(
    broker: Broker, fake: FakeSolarEdge, trio: Bridges
) -> None:
    inverter = trio.inverter
    assert inverter is not None
    energies = []
    async with observer(broker) as obs:
        for _ in range(3):
            fake.readings.advance(3600.0)  # an hour at 2500 W
            mark = obs.mark()
            assert await inverter.poll()
            energies.append((await obs.wait_for(INVERTER_STATE, live, after=mark)).json["energy"])
    assert energies == [9_002_500.0, 9_005_000.0, 9_007_500.0]
    assert fake.energy_scale_factors == {0, 1, 2}  # sent as Wh, 10 Wh and 100 Wh
    assert set(fake.reads) == {(INVERTER, INVERTER_COUNT)}  # energy and factor: one request


async def test_a_night_reads_as_missing_never_zero(
    broker: Broker, fake: FakeSolarEdge, trio: Bridges
) -> None:
    fake.readings.night()
    async with observer(broker) as obs:
        inverter = (await poll(obs, trio, INVERTER_STATE)).json
    assert (inverter["power"], inverter["status"]) == (0.0, "sleeping")
    assert "dc_power" not in inverter and "energy" not in inverter


async def test_an_inverter_without_its_ac_power_goes_offline_and_comes_back(
    broker: Broker, fake: FakeSolarEdge, trio: Bridges
) -> None:
    inverter = trio.inverter
    assert inverter is not None
    availability = f"wattbus/{INVERTER_ID}/availability"
    async with observer(broker) as obs:
        assert await inverter.poll()
        fake.readings.missing = {"ac_power_sf"}
        mark = obs.mark()
        assert not await inverter.poll()
        event = await obs.wait_for(f"wattbus/{INVERTER_ID}/event", after=mark)
        await obs.wait_for(availability, lambda m: m.text == "offline", after=mark)
        fake.readings.missing = set()
        assert await inverter.poll()
        await obs.wait_for(availability, lambda m: m.text == "online", after=mark)
    assert event.json["kind"] == "error" and "no AC power" in event.json["reason"]


async def test_the_inverters_login_reaches_only_its_own_topics(broker: Broker) -> None:
    inverter = aiomqtt.Client(
        "127.0.0.1", broker.port, username=INVERTER_ID, password=password(INVERTER_ID)
    )
    async with observer(broker) as obs, inverter, observing(inverter, "wattbus/#") as heard:
        # denied first, allowed last: the allowed ones arriving alone show the denials
        for device_id in (METER_ID, BATTERY_ID, INVERTER_ID):
            await inverter.publish(f"wattbus/{device_id}/event", b'{"forged":true}', qos=1)
        await obs.wait_for(f"wattbus/{INVERTER_ID}/event")
        for device_id in (METER_ID, BATTERY_ID, INVERTER_ID):
            await obs.publish(f"wattbus/{device_id}/set", {"min_soc": 10})
        await heard.wait_for(f"wattbus/{INVERTER_ID}/set")
    assert [m.topic for m in obs.messages if m.payload == b'{"forged":true}'] == [
        f"wattbus/{INVERTER_ID}/event"
    ]
    assert [m.topic for m in heard.messages] == [f"wattbus/{INVERTER_ID}/set"]
