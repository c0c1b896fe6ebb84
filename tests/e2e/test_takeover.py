"""No broker user can push a service off the bus by taking its client id: during an EV
session, connections with the Zendure bridge's client ids (`wattbus-zendure`, and the bare
`zendure`) under other users' logins leave the bridge connected, and the release still lands
long before the lease. Real processes, real Mosquitto with the production ACL and the
production `use_username_as_clientid`."""

from __future__ import annotations

from datetime import datetime

import aiomqtt
from support.broker import password
from support.home import Home, battery_held, battery_released
from support.mqtt import Msg, observer

STATE = "wattbus/zendure/state"
AVAILABILITY = "wattbus/zendure/availability"
LONG_LEASE = 120  # s: far longer than the test, so only the release itself can restore
# the Shelly devices' login (the one a device on the LAN gives away) and the CLI's
INTRUDERS = ("shelly-grid-meter", "cli")
STOLEN_IDS = ("wattbus-zendure", "zendure")


def pushed_off(m: Msg) -> bool:
    """The bridge's will, as the broker sends it when another connection takes its place:
    live, not the retained value a new subscriber is given. (A bridge also says `offline`
    once at start, before its first state: the test looks only after that.)"""
    return m.topic == AVAILABILITY and m.text == "offline" and not m.retain


async def test_a_client_id_taken_by_another_user_does_not_push_the_bridge_off(
    home: Home,
) -> None:
    async with observer(home.broker) as obs:
        home.service("shelly")
        home.service("zendure")
        home.service("controller", WATTBUS_CONTROLLER_LEASE=str(LONG_LEASE))
        home.set_house_power(9000)  # a car starts charging
        held = await obs.wait_for(STATE, battery_held)

        mark = obs.mark()
        for user in INTRUDERS:
            for stolen in STOLEN_IDS:
                intruder = aiomqtt.Client(
                    "127.0.0.1", home.broker.port, username=user, password=password(user),
                    identifier=stolen,
                )  # fmt: skip
                async with intruder:  # connected: the broker has placed it by now
                    pass

        home.set_house_power(600)  # the car stops
        released = await obs.wait_for(STATE, battery_released, after=mark)

    assert not [m for m in obs.messages[mark:] if pushed_off(m)], "the bridge was pushed off"
    connections = home.procs["zendure"].log.read_text().count("wattbus.bus: connected to")
    assert connections == 1, "the bridge had to connect again"
    assert (home.props()["minSoc"], home.props()["outputLimit"]) == (150, 800)
    expires = datetime.fromisoformat(held.json["hold_expires"])
    assert datetime.fromisoformat(released.json["ts"]) < expires  # the release, not the lease
