"""The broker away for longer than the services' backoff takes to reach its cap, during an EV
session: every service comes back on its own, the hold holds while the car charges, and a car
that stopped while the broker was away gets the battery back before the lease runs out. Real
processes, real Mosquitto with the ACL, restarted on the same port without its retained
messages.

How soon the services are back is a figure, not a pass or fail here: bench/reconnect.py
measures it against the cap. What is checked is the cause: no service ever waited longer
than BACKOFF_MAX between two attempts, as each logs them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime

from support.home import Home, battery_held, battery_released
from support.mqtt import Msg, Observer, observer
from wattbus.bus import BACKOFF_MAX

STATE = "wattbus/zendure/state"
DEVICES = ("grid-meter", "zendure", "controller")  # the services' ids, as on the bus
SERVICES = ("shelly", "zendure", "controller")
RETRY = re.compile(r"retrying in ([0-9.]+) s")  # the bus's warning at each failed attempt
LONG_LEASE = 120  # s: far longer than the test, so only a release can restore
# s the broker is away: well past the backoff's doubling (0.5, 1 s) into its retries every
# BACKOFF_MAX (2 s)
OUTAGE = 8.0


def online(m: Msg) -> bool:
    return m.text == "online"


async def start_home(home: Home) -> datetime:
    """The three services, and a car charging: the battery held. When the hold ends at the
    latest, as the bridge first published it."""
    async with observer(home.broker) as obs:
        home.service("shelly")
        home.service("zendure")
        home.service("controller", WATTBUS_CONTROLLER_LEASE=str(LONG_LEASE))
        for device in DEVICES:
            await obs.wait_for(f"wattbus/{device}/availability", online)
        home.set_house_power(9000)
        held = await obs.wait_for(STATE, battery_held)
    return datetime.fromisoformat(held.json["hold_expires"])


async def broker_away(home: Home, meanwhile: Callable[[], None] = lambda: None) -> None:
    await asyncio.to_thread(home.broker.stop)
    meanwhile()
    await asyncio.sleep(OUTAGE)  # the outage itself, not a synchronisation
    await asyncio.to_thread(home.broker.start)  # same port; nothing retained survives


async def every_service_back(obs: Observer) -> None:
    """Each service's `online`, which it publishes once it has reconnected and subscribed
    again: the restarted broker kept no retained one."""
    for device in DEVICES:
        await obs.wait_for(f"wattbus/{device}/availability", online)


def retries(home: Home, service: str) -> list[float]:
    """The waits a service logged between its attempts to reach the broker."""
    return [float(s) for s in RETRY.findall(home.procs[service].log.read_text())]


async def test_every_service_comes_back_after_an_outage_and_the_hold_holds(home: Home) -> None:
    expires = await start_home(home)
    await broker_away(home)
    async with observer(home.broker) as obs:
        await every_service_back(obs)
        for service in SERVICES:
            waits = retries(home, service)
            assert BACKOFF_MAX in waits, f"{service} never reached its capped retries"
            assert max(waits) <= BACKOFF_MAX, f"{service} waited {max(waits)} s to retry"
        await obs.wait_for(STATE, battery_held)  # the car still charges: still held
        mark = obs.mark()
        home.set_house_power(600)  # the car stops
        released = await obs.wait_for(STATE, battery_released, after=mark)
    assert (home.props()["minSoc"], home.props()["outputLimit"]) == (150, 800)
    assert datetime.fromisoformat(released.json["ts"]) < expires


async def test_a_car_that_stops_while_the_broker_is_away_is_released_when_it_returns(
    home: Home,
) -> None:
    expires = await start_home(home)
    await broker_away(home, meanwhile=lambda: home.set_house_power(600))
    async with observer(home.broker) as obs:
        await every_service_back(obs)
        released = await obs.wait_for(STATE, battery_released)
    assert (home.props()["minSoc"], home.props()["outputLimit"]) == (150, 800)
    assert datetime.fromisoformat(released.json["ts"]) < expires  # the release, not the lease
