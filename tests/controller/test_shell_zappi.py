"""Solar tracking end to end with the real myenergi bridge: a Zappi takes no current from
outside, so each strategy the controller is given becomes the Zappi's own mode, sent on the
bridge's `set`, carried to the fake myenergi cloud over HTTP and read back from the Zappi's
status by the bridge, which the controller reads on the bus."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from support.broker import Broker
from support.mqtt import Msg, bus_settings, running
from wattbus.bus import Bus
from wattbus_myenergi.service import make_bridge, open_zappi
from wattbus_myenergi.settings import MyenergiSettings
from wattbus_simulator.fake_myenergi import (
    ECO,
    ECO_PLUS,
    FAST,
    STOPPED,
    FakeMyenergi,
    ZappiState,
    start_fake_myenergi,
)

from .conftest import STATE, FakeClock, controller_rig

EVENT = "wattbus/zappi/event"
ZAPPI_STATE = "wattbus/zappi/state"


@contextlib.asynccontextmanager
async def zappi(broker: Broker, clock: FakeClock) -> AsyncIterator[FakeMyenergi]:
    """A plugged-in car on a fake Zappi its owner left in Fast, and its bridge; a command is
    read back every 10 ms instead of every 2 s."""
    state = ZappiState(mode=FAST)
    state.plug()
    fake = await start_fake_myenergi(state)
    settings = MyenergiSettings.only(hub_serial=state.hub_serial, api_key=state.api_key,
                                     loopback_port=fake.port)  # fmt: skip
    bus = Bus(bus_settings(broker, "zappi"), settings.id)
    try:
        async with open_zappi(settings) as client:
            bridge = make_bridge(settings, bus, client, clock=clock, read_back_every=0.01)
            async with running(bus.run()), running(bridge.run()):
                yield fake
    finally:
        await fake.close()


def applied(mode_name: str) -> Callable[[Msg], bool]:
    """The bridge's answer to the controller: the Zappi's status shows this mode."""
    return lambda m: (
        m.json.get("kind") == "applied" and m.json.get("command") == {"mode_name": mode_name}
    )


def shows(mode_name: str) -> Callable[[Msg], bool]:
    """The bridge's state of the Zappi, read from its status."""
    return lambda m: m.json.get("mode_name") == mode_name


def told(strategy: str) -> Callable[[Msg], bool]:
    def check(m: Msg) -> bool:
        verdict = m.json.get("chargers", {}).get("zappi", {})
        return bool(verdict.get("strategy") == strategy and verdict.get("action") != "leave")

    return check


async def test_each_strategy_becomes_the_zappis_own_mode_through_its_bridge(
    own_broker: Broker, tmp_path: Path
) -> None:
    """Tracked first, as configured, then each strategy from `controller/set` as Home
    Assistant sends it; slow between tracked and fast, so that Eco comes twice from different
    strategies and each is a change the Zappi must make."""
    async with (
        controller_rig(own_broker, tmp_path, solar_chargers="zappi") as rig,
        zappi(own_broker, rig.clock) as fake,
    ):
        mark = rig.obs.mark()
        await rig.house(-3000, hold=False)  # 3 kW exported
        await rig.obs.wait_for(EVENT, applied("Eco+"), after=mark)
        assert fake.state.mode == ECO_PLUS
        await rig.obs.wait_for(ZAPPI_STATE, shows("Eco+"), after=mark)
        state = await rig.obs.wait_for(STATE, told("tracked"), after=mark)
        verdict = state.json["chargers"]["zappi"]
        assert verdict["winner"] == "charging"
        # not a start delay or a current of the policy's: the Zappi takes neither
        assert (verdict["action"], verdict["reason"]) == (
            "charge", "tracked: it follows the surplus itself"
        )  # fmt: skip

        for strategy, mode_name, number in [
            ("slow", "Eco", ECO), ("fast", "Fast", FAST), ("min_pv", "Eco", ECO),
            ("off", "Stopped", STOPPED),
        ]:  # fmt: skip
            mark = rig.obs.mark()
            await rig.obs.publish("wattbus/controller/set", {"strategy": strategy})
            await rig.obs.wait_for(EVENT, applied(mode_name), after=mark)
            assert fake.state.mode == number, strategy
            await rig.obs.wait_for(ZAPPI_STATE, shows(mode_name), after=mark)
            state = await rig.obs.wait_for(STATE, told(strategy), after=mark)
            reason = state.json["chargers"]["zappi"]["reason"]
            assert reason.startswith((f"{strategy}: ", f"strategy {strategy}")), reason
