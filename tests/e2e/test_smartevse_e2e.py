"""The SmartEVSE end to end: the shelly, zendure, controller and smartevse services as real
processes under the production ACL, the fake charger on the same Mosquitto under its own user.
The bridge feeds the charger the fake Shelly's currents, mirrors whether the car charges, and
the controller holds the battery on that word. Nothing ticks the charger but the test: its
11 s mains timeout runs only when a test calls `tick()`.

These tests are also the ACL's: the bridge reads the meter, the charger's topics and writes
its Set/ topics and its feed state only through what mosquitto/acl grants user `smartevse`."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable

from support.broker import password
from support.home import CHARGER_PREFIX, Home, battery_held, battery_released
from support.mqtt import Msg, Observer, observer
from wattbus_simulator.fake_shelly import ShellyPhase
from wattbus_simulator.fake_smartevse import COMM_ERROR, COMM_TIMEOUT, FakeSmartEvse, SmartEvse

CHARGER_USER = "smartevse-garage"  # mosquitto/acl
MAINS = f"{CHARGER_PREFIX}/Set/MainsMeter"
ERROR = f"{CHARGER_PREFIX}/Error"
END = f"{CHARGER_PREFIX}/EVTotalEnergyCharged"  # the last topic of each of the fake's publications
CHARGER_STATE = "wattbus/smartevse/state"
FEED = "wattbus/smartevse/feed"
EVENTS = "wattbus/smartevse/event"
BATTERY = "wattbus/zendure/state"
CONTROLLER = "wattbus/controller/state"
ON_THE_CHARGER = {"WATTBUS_CONTROLLER_CHARGER": "smartevse"}


@contextlib.asynccontextmanager
async def garage_charger(home: Home, evse: SmartEvse) -> AsyncIterator[FakeSmartEvse]:
    charger = FakeSmartEvse(
        home.broker.port,
        prefix=CHARGER_PREFIX,
        username=CHARGER_USER,
        password=password(CHARGER_USER),
        evse=evse,
    )
    await charger.start()
    try:
        yield charger
    finally:
        await charger.stop()


def start_services(home: Home) -> None:
    home.service("shelly")
    home.service("zendure")
    home.service("controller", **ON_THE_CHARGER)
    home.service("smartevse")


def deci_amps(phases: list[ShellyPhase]) -> str:
    """What the fake Shelly measures, as the firmware wants it: dA per phase, import > 0 (the
    device's own current is unsigned; the direction is its power's)."""
    return ":".join(str(round(math.copysign(p.current, p.act_power) * 10)) for p in phases)


def by_charger(charging: bool) -> Callable[[Msg], bool]:
    """Its state when it goes by the charger's own word (signal `charger`), not the threshold."""

    def pred(m: Msg) -> bool:
        s = m.json
        return bool(s["signal"] == "charger" and s["ev_charging"] is charging)

    return pred


async def barrier(obs: Observer) -> None:
    """Returns once the bridge has handled everything sent before: it answers a command it
    cannot read after every message that came before that command."""
    mark = obs.mark()
    await obs.publish("wattbus/smartevse/set", b'{"barrier": true}')
    await obs.wait_for(EVENTS, lambda m: m.json.get("kind") == "rejected", after=mark)


async def test_a_car_charging_from_surplus_holds_the_battery_until_it_unplugs(home: Home) -> None:
    # L1 imports 2 A, L2 and L3 export 15 A each: surplus the Solar mode lets the car take
    watts = (460.0, -3450.0, -3450.0)
    for phase, w in zip(home.shelly.state.phases, watts, strict=True):
        phase.act_power = w
    expected = deci_amps(home.shelly.state.phases)
    assert expected == "20:-150:-150"
    async with observer(home.broker) as obs, garage_charger(home, SmartEvse(mode="Solar")) as ev:
        start_services(home)
        await obs.wait_for(BATTERY, lambda m: m.json["min_soc"] == 15.0)
        # the controller trusts the charger before any car comes
        await obs.wait_for(CONTROLLER, by_charger(False))
        fed = await obs.wait_for(MAINS)
        assert fed.text == expected
        await obs.wait_for(END, after=obs.messages.index(fed))  # it answers each Set/ at once
        assert ev.evse.mains == [20, -150, -150]  # the firmware took it

        mark = obs.mark()
        await ev.plug(True)
        # Solar mode: the car waits for a reading that shows the surplus, then charges
        # (one publication of the charger's topics can give a few states in a row: the bridge
        # counts each topic as it comes, StateID before EVPlugState)
        charging = await obs.wait_for(
            CHARGER_STATE, lambda m: m.json["charging"] and m.json["plugged"], after=mark
        )
        assert charging.json["mode"] == "solar"
        holding = await obs.wait_for(CONTROLLER, by_charger(True), after=mark)
        assert holding.json["holding"] == ["zendure"]
        await obs.wait_for(BATTERY, battery_held, after=mark)
        assert home.props()["minSoc"] == 1000
        assert ev.evse.state_id == "C"
        # every feed is what the fake Shelly measures, and the charger took each of them
        assert {m.text for m in obs.messages if m.topic == MAINS} == {expected}
        feeds = [r for r in ev.received if r.topic == "MainsMeter"]
        assert feeds and all(r.applied for r in feeds)

        mark = obs.mark()
        await ev.plug(False)
        await obs.wait_for(CHARGER_STATE, lambda m: m.json["plugged"] is False, after=mark)
        await obs.wait_for(CONTROLLER, by_charger(False), after=mark)
        await obs.wait_for(BATTERY, battery_released, after=mark)
        assert home.props()["minSoc"] == 150
        assert home.props()["outputLimit"] == 800
        assert home.min_soc_writes() == [1000, 150]  # one hold, one restore


async def test_a_dead_meter_stops_the_charging_by_the_chargers_own_timeout(home: Home) -> None:
    evse = SmartEvse(mode="Smart", max_sum_mains=25)  # Smart balances on the mains it is fed
    async with observer(home.broker) as obs, garage_charger(home, evse) as ev:
        await ev.plug(True)
        start_services(home)
        await obs.wait_for(FEED, lambda m: m.json["feed_active"])
        await obs.wait_for(CHARGER_STATE, lambda m: m.json["charging"])
        await obs.wait_for(BATTERY, battery_held)

        mark = obs.mark()
        home.procs["shelly"].stop()  # it says offline as it goes
        stopped = await obs.wait_for(FEED, lambda m: not m.json["feed_active"], after=mark)
        last = [m for m in obs.messages if m.topic == MAINS][-1]
        await obs.wait_for(END, after=obs.messages.index(last))  # the charger has taken it

        # the last feed keeps the charger going for its 11 s, and not a second longer
        for _ in range(COMM_TIMEOUT):
            await ev.tick()
        assert (ev.evse.comm_error, ev.evse.state_id) == (False, "C")
        mark = obs.mark()
        await ev.tick()
        await obs.wait_for(ERROR, lambda m: m.text == COMM_ERROR, after=mark)
        state = await obs.wait_for(
            CHARGER_STATE, lambda m: m.json.get("error") == COMM_ERROR, after=mark
        )
        assert state.json["charging"] is False  # told to stop (C1)
        await obs.wait_for(CONTROLLER, by_charger(False), after=mark)
        await obs.wait_for(BATTERY, battery_released, after=mark)
        assert home.props()["minSoc"] == 150
        await barrier(obs)
        fed_after = [m for m in obs.messages[obs.messages.index(stopped) :] if m.topic == MAINS]
        assert fed_after == []  # nothing from memory: the last reading fed was the last fresh one

        # the meter back: the next reading is fed, clears the error, and the car charges again
        mark = obs.mark()
        home.service("shelly")
        await obs.wait_for(MAINS, after=mark)
        resumed = await obs.wait_for(
            CHARGER_STATE, lambda m: m.json["charging"] and m.json.get("error") is None, after=mark
        )
        assert resumed.json["mode"] == "smart"
        await obs.wait_for(BATTERY, battery_held, after=mark)
        assert home.min_soc_writes() == [1000, 150, 1000]
