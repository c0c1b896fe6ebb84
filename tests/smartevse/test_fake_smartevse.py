"""The fake SmartEVSE behaves like the firmware on MQTT: through a real Mosquitto and its ACL,
logged in as the charger's own user, fed by a plain client (`owner`) publishing `Set/` topics
as a feeder would. Time is the firmware's 1 s task, ticked by the tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiomqtt
import pytest
from support.broker import Broker, password
from support.mqtt import Msg, Observer, observer
from wattbus_simulator.fake_smartevse import (
    BATTERY_EXPIRY,
    COMM_TIMEOUT,
    PUBLISH_EVERY,
    FakeSmartEvse,
    FirmwareLine,
    SmartEvse,
)

USER = "smartevse-garage"  # mosquitto/acl: writes under PREFIX, reads PREFIX/Set/#
PREFIX = "SmartEVSE/garage"
CONNECTED = f"{PREFIX}/connected"
END = f"{PREFIX}/EVTotalEnergyCharged"  # the last topic of every publication

MakeCharger = Callable[..., Awaitable[FakeSmartEvse]]


@pytest.fixture
async def bus(own_broker: Broker) -> AsyncIterator[Observer]:
    """The feeder, seeing everything. The broker is the test's own: a charger's retained
    topics must not leak into the next test."""
    async with observer(own_broker, "owner") as obs:
        yield obs


@pytest.fixture
async def make_charger(own_broker: Broker, bus: Observer) -> AsyncIterator[MakeCharger]:
    """Start a fake charger with these `SmartEvse` values; returns once its first state is
    on the bus. Stopped after the test."""
    made: list[FakeSmartEvse] = []

    async def make(**values: Any) -> FakeSmartEvse:
        fake = FakeSmartEvse(
            own_broker.port,
            prefix=PREFIX,
            username=USER,
            password=password(USER),
            evse=SmartEvse(**values),
        )
        made.append(fake)
        mark = bus.mark()
        await fake.start()
        await bus.wait_for(END, after=mark)
        return fake

    yield make
    for fake in made:
        await fake.stop()


def published(bus: Observer, mark: int) -> dict[str, Msg]:
    """The charger's state topics since `mark`, by name after the prefix; the last one wins."""
    out: dict[str, Msg] = {}
    for m in bus.messages[mark:]:
        name = m.topic.removeprefix(f"{PREFIX}/")
        if m.topic.startswith(f"{PREFIX}/") and not name.startswith("Set/"):
            out[name] = m
    return out


def texts(bus: Observer, mark: int) -> dict[str, str]:
    return {name: m.text for name, m in published(bus, mark).items()}


async def send(bus: Observer, topic: str, payload: str) -> dict[str, str]:
    """Publish `Set/<topic>` and return the state the charger publishes at once after it."""
    mark = bus.mark()
    await bus.publish(f"{PREFIX}/Set/{topic}", payload)
    await bus.wait_for(END, after=mark)
    return texts(bus, mark)


async def plug(bus: Observer, charger: FakeSmartEvse, plugged: bool = True) -> dict[str, str]:
    """A car on (or off) the cable, and the state the charger publishes at once."""
    mark = bus.mark()
    await charger.plug(plugged)
    await bus.wait_for(END, after=mark)
    return texts(bus, mark)


async def tick(bus: Observer, charger: FakeSmartEvse, times: int = 1) -> dict[str, str]:
    """`times` seconds of the firmware; the state it published in them ({} if none)."""
    mark = bus.mark()
    publications = [await charger.tick() for _ in range(times)].count(True)
    after = mark
    for _ in range(publications):  # each ends with END; the last one is the state now
        end = await bus.wait_for(END, after=after)
        after = bus.messages.index(end, after) + 1
    return texts(bus, mark)


# --- connection, last will, publication --------------------------------------------------------


async def test_on_connect_it_says_online_and_publishes_its_state_in_firmware_units(
    own_broker: Broker, bus: Observer, make_charger: MakeCharger
) -> None:
    mark = bus.mark()
    await make_charger(max_current=16, max_sum_mains=40)
    state = texts(bus, mark)
    async with observer(own_broker, "homeassistant") as later:
        # what the broker keeps arrives first; then the state after a Set message, live
        await send(bus, "Mode", "bogus")
        await later.wait_for(END)
    retained = {
        m.topic.removeprefix(f"{PREFIX}/")
        for m in later.messages
        if m.retain and m.topic.startswith(f"{PREFIX}/")
    }

    assert state == {
        "connected": "online",
        "MainsCurrentL1": "0",
        "MainsCurrentL2": "0",
        "MainsCurrentL3": "0",
        "Mode": "Normal",
        "MaxCurrent": "160",  # dA
        "MaxSumMains": "40",  # A
        "ChargeCurrent": "160",
        "ChargeCurrentOverride": "0",
        "NrOfPhases": "3",
        "Access": "Allow",
        "State": "Ready to Charge",
        "StateID": "A",
        "Error": "None",
        "EVPlugState": "Disconnected",
        "EVChargePower": "0",
        "EVEnergyCharged": "0",
        "EVTotalEnergyCharged": "0",
    }  # no HomeBatteryCurrent: none was ever set
    assert retained == {
        "connected", "Mode", "MaxCurrent", "MaxSumMains", "ChargeCurrent",
        "ChargeCurrentOverride", "NrOfPhases", "Access", "State", "StateID", "Error",
        "EVPlugState", "EVEnergyCharged",
    }  # fmt: skip


async def test_it_announces_itself_to_home_assistant_as_the_firmware_does(
    own_broker: Broker, make_charger: MakeCharger
) -> None:
    await make_charger()
    async with observer(own_broker, "homeassistant") as ha:
        config = await ha.wait_for(f"homeassistant/select/{PREFIX}-Mode/config")
    assert config.retain
    assert config.json["state_topic"] == f"{PREFIX}/Mode"
    assert config.json["availability_topic"] == f"{PREFIX}/connected"
    assert config.json["device"]["identifiers"] == PREFIX
    assert config.json["device"]["manufacturer"] == "Stegen"


async def test_its_last_will_says_offline_retained_when_it_drops_off_the_broker(
    own_broker: Broker, bus: Observer, make_charger: MakeCharger
) -> None:
    await make_charger()
    mark = bus.mark()
    # A second login as the charger's user takes its connection over: the broker closes the
    # charger's without a DISCONNECT, as when the charger loses power, and sends its will.
    async with aiomqtt.Client("127.0.0.1", own_broker.port, username=USER, password=password(USER)):
        gone = await bus.wait_for(CONNECTED, lambda m: m.text == "offline", after=mark)
    async with observer(own_broker, "homeassistant") as later:
        seen = await later.wait_for(CONNECTED)

    assert (seen.text, seen.retain) == ("offline", True)  # what a new subscriber sees
    assert gone.text == "offline"


async def test_stop_says_offline_retained(
    own_broker: Broker, bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger()
    await charger.stop()
    async with observer(own_broker, "homeassistant") as later:
        seen = await later.wait_for(CONNECTED)

    assert (seen.text, seen.retain) == ("offline", True)


async def test_state_is_published_every_10_ticks_and_at_once_after_any_set_message(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger()
    quiet = [await charger.tick() for _ in range(PUBLISH_EVERY - 1)]
    mark = bus.mark()
    due = await charger.tick()
    await bus.wait_for(END, after=mark)
    after_garbage = await send(bus, "Mode", "bogus")  # ignored, and answered with the state

    assert quiet == [False] * (PUBLISH_EVERY - 1)
    assert due is True
    assert after_garbage["Mode"] == "Normal"
    assert charger.received[-1].applied is False


async def test_a_car_charging_in_normal_mode_shows_its_power_and_energy(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(max_current=16, phases=3)
    plugged = await plug(bus, charger)
    later = await tick(bus, charger, PUBLISH_EVERY)

    assert (plugged["State"], plugged["StateID"], plugged["EVPlugState"]) == (
        "Charging", "C", "Connected",
    )  # fmt: skip
    assert plugged["EVChargePower"] == "11040"  # 16 A x 3 x 230 V
    assert later["EVEnergyCharged"] == "31"  # 11040 W for 10 s = 30.7 Wh
    assert later["EVTotalEnergyCharged"] == "31"


# --- MainsMeter: formats and ranges per firmware line -------------------------------------------


@pytest.mark.parametrize(
    ("firmware", "payload", "phases"),
    [
        ("dingo", "12:-34:56", ("12", "-34", "56")),
        ("dingo", "12:-34:56:2300:1000", ("12", "-34", "56")),
        ("dingo", "12:-34:56:-1:-1", ("12", "-34", "56")),  # W, Wh unknown
        ("dingo", "12:-34:56:2300", None),  # 4 fields
        ("dingo", "12:-34", None),
        ("dingo", "12:-34:56:1:2:3", None),  # 6 fields
        ("dingo", "12:-34:5x", None),
        ("dingo", "1999:-1999:0", ("1999", "-1999", "0")),
        ("dingo", "2000:0:0", None),  # each phase strictly inside -2000..2000 dA
        ("dingo", "0:-2000:0", None),
        ("upstream", "12:-34:56", ("12", "-34", "56")),
        ("upstream", "12:-34:56:2300", ("12", "-34", "56")),  # the rest is not read
        ("upstream", "12:-34:56:2300:1000", ("12", "-34", "56")),
        ("upstream", "12:-34:56xyz", ("12", "-34", "56")),
        ("upstream", "12:-34", None),
        ("upstream", "a:b:c", None),
        ("upstream", "0:0:2000", None),
    ],
)
async def test_mains_meter_formats_each_firmware_line_takes_or_drops(
    bus: Observer,
    make_charger: MakeCharger,
    firmware: FirmwareLine,
    payload: str,
    phases: tuple[str, str, str] | None,
) -> None:
    charger = await make_charger(firmware=firmware)
    state = await send(bus, "MainsMeter", payload)

    shown = (state["MainsCurrentL1"], state["MainsCurrentL2"], state["MainsCurrentL3"])
    assert shown == (phases or ("0", "0", "0"))
    assert charger.received[-1].applied is (phases is not None)


async def test_mains_meter_is_ignored_unless_the_meter_type_is_api(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(api_meter=False, mode="Smart")
    state = await send(bus, "MainsMeter", "10:20:30")
    await tick(bus, charger, 3 * COMM_TIMEOUT)  # and no meter, no timeout

    assert state["MainsCurrentL1"] == "0"
    assert charger.received[-1].why == "the mains meter is not API"
    assert charger.evse.comm_error is False


# --- the other Set topics ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "payload", "override"),
    [
        ("Normal", "100", "100"),
        ("Smart", "100", "100"),
        ("Normal", "60", "60"),  # MinCurrent 6 A
        ("Normal", "160", "160"),  # MaxCurrent 16 A
        ("Normal", "59", "0"),
        ("Normal", "161", "0"),
        ("Normal", "-100", "0"),
        ("Solar", "100", "0"),  # only in Normal or Smart
        ("Normal", "100abc", "100"),  # read as atoi reads it
    ],
)
async def test_current_override_in_dA_within_min_and_max_current_in_normal_or_smart(
    bus: Observer, make_charger: MakeCharger, mode: str, payload: str, override: str
) -> None:
    await make_charger(mode=mode, min_current=6, max_current=16)
    state = await send(bus, "CurrentOverride", payload)

    assert state["ChargeCurrentOverride"] == override


async def test_current_override_0_clears_it_and_so_does_text_that_atoi_reads_as_0(
    bus: Observer, make_charger: MakeCharger
) -> None:
    await make_charger()
    set_ = await send(bus, "CurrentOverride", "100")
    cleared = await send(bus, "CurrentOverride", "0")
    await send(bus, "CurrentOverride", "100")
    garbage = await send(bus, "CurrentOverride", "abc")

    assert (set_["ChargeCurrentOverride"], set_["ChargeCurrent"]) == ("100", "100")
    assert (cleared["ChargeCurrentOverride"], cleared["ChargeCurrent"]) == ("0", "160")
    assert garbage["ChargeCurrentOverride"] == "0"


@pytest.mark.parametrize(
    ("payload", "shown"),
    [("0", "0"), ("10", "10"), ("600", "600"), ("9", "25"), ("601", "25"), ("-10", "25")],
)
async def test_current_max_sum_mains_in_amps_10_to_600_or_0_to_disable(
    bus: Observer, make_charger: MakeCharger, payload: str, shown: str
) -> None:
    await make_charger(max_sum_mains=25)
    state = await send(bus, "CurrentMaxSumMains", payload)

    assert state["MaxSumMains"] == shown


@pytest.mark.parametrize(
    ("payload", "mode", "access"),
    [
        ("Off", "Off", "Deny"),
        ("Pause", "Pause", "Pause"),
        ("Smart", "Smart", "Allow"),
        ("Solar", "Solar", "Allow"),
        ("solar", "Normal", "Allow"),  # the firmware compares exactly
        ("", "Normal", "Allow"),
    ],
)
async def test_mode_as_the_firmware_names_it(
    bus: Observer, make_charger: MakeCharger, payload: str, mode: str, access: str
) -> None:
    await make_charger()
    state = await send(bus, "Mode", payload)

    assert (state["Mode"], state["Access"]) == (mode, access)


@pytest.mark.parametrize(
    ("firmware", "mode", "override"),
    [
        ("dingo", "Solar", "0"),
        ("upstream", "Solar", "0"),
        ("dingo", "Smart", "100"),
        ("upstream", "Smart", "0"),  # upstream clears it on Smart as well
    ],
)
async def test_solar_clears_the_override_and_upstream_clears_it_on_smart_too(
    bus: Observer, make_charger: MakeCharger, firmware: FirmwareLine, mode: str, override: str
) -> None:
    await make_charger(firmware=firmware)
    await send(bus, "CurrentOverride", "100")
    state = await send(bus, "Mode", mode)

    assert state["ChargeCurrentOverride"] == override


async def test_off_and_pause_stop_a_charging_car_and_a_mode_lets_it_charge_again(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger()
    await plug(bus, charger)
    off = await send(bus, "Mode", "Off")
    stopped = await tick(bus, charger)
    again = await send(bus, "Mode", "Normal")
    paused = await send(bus, "Mode", "Pause")

    assert (off["StateID"], off["EVChargePower"]) == ("C1", "0")
    assert (stopped["StateID"], stopped["State"]) == ("B1", "Charging Stopped")
    assert (again["StateID"], again["EVChargePower"]) == ("C", "11040")
    assert (paused["StateID"], paused["Access"]) == ("C1", "Pause")


# --- the 11 s mains timeout ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["Smart", "Solar"])
async def test_without_a_feed_for_more_than_11_s_smart_and_solar_stop_until_the_next_feed(
    bus: Observer, make_charger: MakeCharger, mode: str
) -> None:
    charger = await make_charger(mode=mode, min_current=6, max_current=16)
    await plug(bus, charger)
    fed = await send(bus, "MainsMeter", "-100:-100:-100")  # 10 A export on each phase
    within = await tick(bus, charger, COMM_TIMEOUT)  # the counter runs down to 0
    error = charger.evse.comm_error
    tripped = await tick(bus, charger)  # this tick finds it at 0
    stopped = await tick(bus, charger)
    back = await send(bus, "MainsMeter", "-100:-100:-100")

    assert fed["StateID"] == "C"
    assert (error, within["Error"]) == (False, "None")  # the 10 s publication
    assert (tripped["Error"], tripped["StateID"], tripped["State"]) == (
        "Communication Error", "C1", "Stop Charging",
    )  # fmt: skip
    assert tripped["EVChargePower"] == "0"
    assert (stopped["StateID"], stopped["State"]) == ("B1", "Charging Stopped")
    assert (back["Error"], back["StateID"]) == ("None", "C")


async def test_in_normal_mode_an_api_meter_never_times_out(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(mode="Normal")
    await plug(bus, charger)
    await send(bus, "MainsMeter", "10:10:10")
    state = await tick(bus, charger, 6 * PUBLISH_EVERY)

    assert (state["Error"], state["StateID"]) == ("None", "C")


async def test_the_timeout_counts_in_normal_mode_and_trips_once_the_mode_needs_the_meter(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(mode="Normal")
    await send(bus, "MainsMeter", "10:10:10")
    await tick(bus, charger, 2 * COMM_TIMEOUT)
    await send(bus, "Mode", "Smart")
    state = await tick(bus, charger)

    assert state["Error"] == "Communication Error"


async def test_a_dropped_mains_message_does_not_keep_the_meter_fresh(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(mode="Smart", firmware="dingo")
    await send(bus, "MainsMeter", "10:10:10")
    for _ in range(COMM_TIMEOUT):
        await send(bus, "MainsMeter", "10:10:10:0")  # 4 fields: dingo drops it
        await tick(bus, charger)
    state = await tick(bus, charger)

    assert state["Error"] == "Communication Error"


# --- home battery current -------------------------------------------------------------------------


async def test_the_battery_current_is_published_and_used_for_60_s_then_expires(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(mode="Solar")
    set_ = await send(bus, "HomeBatteryCurrent", "60")  # 6 A charging: 2 A per phase
    fed = await send(bus, "MainsMeter", "0:0:0")
    fresh = await tick(bus, charger, BATTERY_EXPIRY)  # 60 s old: still fresh
    fed_fresh = await send(bus, "MainsMeter", "0:0:0")
    expired = await tick(bus, charger)  # 61 s old
    fed_expired = await send(bus, "MainsMeter", "0:0:0")

    assert set_["HomeBatteryCurrent"] == "60"
    assert fed["MainsCurrentL1"] == "-20"  # CalcIsum: mains minus battery/3
    assert fresh["HomeBatteryCurrent"] == "60"
    assert fed_fresh["MainsCurrentL1"] == "-20"
    assert "HomeBatteryCurrent" not in expired
    assert "HomeBatteryCurrent" not in fed_expired
    assert fed_expired["MainsCurrentL1"] == "0"


async def test_the_battery_current_counts_only_in_solar_mode(
    bus: Observer, make_charger: MakeCharger
) -> None:
    await make_charger(mode="Smart")
    set_ = await send(bus, "HomeBatteryCurrent", "60")
    fed = await send(bus, "MainsMeter", "0:0:0")

    assert set_["HomeBatteryCurrent"] == "60"  # stored and published all the same
    assert fed["MainsCurrentL1"] == "0"


# --- the charge current follows the feed ---------------------------------------------------------


async def test_solar_current_moves_with_the_fed_mains_and_battery_currents(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(mode="Solar", min_current=6, max_current=16, phases=3)
    await plug(bus, charger)
    charger_state: list[dict[str, str]] = []
    for payload in ("-100:-100:-100", "-50:-50:-50", "30:30:30", "100:100:100"):
        charger_state.append(await send(bus, "MainsMeter", payload))
    await send(bus, "HomeBatteryCurrent", "300")  # 30 A charging: 10 A per phase of surplus
    with_battery = await send(bus, "MainsMeter", "0:0:0")

    currents = [(s["ChargeCurrent"], s["StateID"]) for s in charger_state]
    assert currents == [
        ("100", "C"),  # 10 A of export per phase: the car takes it
        ("150", "C"),  # charging at 10 A and still 5 A export: 15 A
        ("120", "C"),  # 3 A import: 3 A less
        ("0", "C1"),  # 10 A import: below the 6 A minimum, it stops
    ]
    assert (with_battery["ChargeCurrent"], with_battery["MainsCurrentL1"]) == ("100", "-100")


async def test_the_car_waits_in_solar_mode_until_a_feed_shows_surplus(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(mode="Solar")
    plugged = await plug(bus, charger)
    importing = await send(bus, "MainsMeter", "20:20:20")

    assert (plugged["StateID"], plugged["ChargeCurrent"]) == ("B", "0")
    assert (importing["StateID"], importing["ChargeCurrent"]) == ("B", "0")


async def test_smart_current_stays_within_max_sum_mains(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(mode="Smart", max_sum_mains=40, min_current=6, max_current=16)
    await plug(bus, charger)
    full = await send(bus, "MainsMeter", "100:100:100")  # the house: 30 of 40 A
    room = await send(bus, "MainsMeter", "50:50:50")  # 15 A: 25 A of room
    steady = await send(bus, "MainsMeter", "133:133:133")  # the house and the car: 39.9 A
    unlimited = await send(bus, "CurrentMaxSumMains", "0")

    assert (full["ChargeCurrent"], full["StateID"]) == ("0", "B")  # 3.3 A is below 6 A
    assert (room["ChargeCurrent"], room["StateID"]) == ("83", "C")
    assert steady["ChargeCurrent"] == "83"
    assert unlimited["ChargeCurrent"] == "160"


async def test_normal_charges_at_max_current_or_the_override(
    bus: Observer, make_charger: MakeCharger
) -> None:
    charger = await make_charger(mode="Normal", max_current=16)
    await plug(bus, charger)
    overridden = await send(bus, "CurrentOverride", "100")
    fed = await send(bus, "MainsMeter", "150:150:150")  # Normal does not balance

    assert (overridden["ChargeCurrent"], overridden["EVChargePower"]) == ("100", "6900")
    assert fed["ChargeCurrent"] == "100"
