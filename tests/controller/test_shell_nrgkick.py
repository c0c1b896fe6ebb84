"""Solar tracking end to end with a real charger bridge: the controller on a real broker
tells the NRGKICK bridge what to do, and the bridge does it to the fake NRGKICK over HTTP, so
the fields the controller sends are the ones the bridge takes, and the charger's state comes
back to the controller through the bus."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from support.broker import Broker
from support.mqtt import Msg, bus_settings, running
from wattbus.bus import Bus
from wattbus_nrgkick.service import make_bridge, open_charger
from wattbus_nrgkick.settings import NrgkickSettings
from wattbus_simulator.fake_nrgkick import FakeNrgkick, NrgkickState, start_fake_nrgkick

from .conftest import STATE, FakeClock, controller_rig

EVENT = "wattbus/nrgkick/event"


@contextlib.asynccontextmanager
async def nrgkick(broker: Broker, clock: FakeClock) -> AsyncIterator[FakeNrgkick]:
    """A plugged-in car on a paused fake NRGKICK, and its bridge polling it every second."""
    fake = await start_fake_nrgkick(NrgkickState(plugged=True, charge_pause=1))
    settings = NrgkickSettings.only(host=f"127.0.0.1:{fake.port}", poll_interval=1.0)
    bus = Bus(bus_settings(broker, "nrgkick"), settings.id)
    try:
        async with open_charger(settings) as client:
            bridge = make_bridge(settings, bus, client, clock=clock)
            async with running(bus.run()), running(bridge.run()):
                yield fake
    finally:
        await fake.close()


def applied(command: dict[str, object]) -> Callable[[Msg], bool]:
    """The bridge's answer to the controller: this command applied."""
    return lambda m: m.json.get("kind") == "applied" and m.json.get("command") == command


def tracking(m: Msg) -> bool:
    return "nrgkick" in m.json.get("chargers", {})


async def test_the_controller_starts_and_stops_a_real_nrgkick_bridge(
    own_broker: Broker, tmp_path: Path
) -> None:
    solar: dict[str, Any] = {"solar_chargers": "nrgkick", "solar_start_delay": 0,
                             "solar_stop_delay": 0, "solar_import_stop_delay": 0}  # fmt: skip
    async with (
        controller_rig(own_broker, tmp_path, **solar) as rig,
        nrgkick(own_broker, rig.clock) as fake,
    ):
        await rig.obs.wait_for(STATE, tracking)
        mark = rig.obs.mark()
        await rig.house(-5000, hold=False)  # 5 kW exported, the car paused
        await rig.obs.wait_for(EVENT, applied({"mode": "normal", "current": 7.0}), after=mark)
        assert (fake.state.current_set, fake.state.charge_pause) == (7.0, 0)

        mark = rig.obs.mark()
        await rig.house(2500, hold=False)  # a cloud: the car's 4.8 kW now half from the grid
        await rig.obs.wait_for(EVENT, applied({"mode": "pause"}), after=mark)
        assert fake.state.charge_pause == 1
