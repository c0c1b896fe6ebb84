"""The shell carries holds and releases to the battery over a real broker, and repeats a
release the battery does not act on."""

from __future__ import annotations

from pathlib import Path

from support.broker import Broker
from support.mqtt import Msg
from wattbus_controller.holds import RESEND_AFTER

from .conftest import BATTERY_SET, controller_rig


def release(m: Msg) -> bool:
    return m.json.get("hold") is False


def hold(m: Msg) -> bool:
    return m.json.get("hold") is True


async def test_a_release_the_battery_ignores_is_sent_again(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with controller_rig(own_broker, tmp_path) as rig:
        await rig.house(9000, hold=False)
        await rig.obs.wait_for(BATTERY_SET, hold)
        await rig.house(9000, hold=True)
        mark = rig.obs.mark()
        await rig.house(600, hold=True)  # the car stops; the release gets lost
        await rig.obs.wait_for(BATTERY_SET, release, after=mark)
        mark = rig.obs.mark()
        rig.clock.advance(RESEND_AFTER)
        await rig.obs.wait_for(BATTERY_SET, release, after=mark)


async def test_in_auto_a_hold_placed_by_someone_else_is_released(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with controller_rig(own_broker, tmp_path) as rig:
        mark = rig.obs.mark()
        await rig.house(600, hold=True)
        await rig.obs.wait_for(BATTERY_SET, release, after=mark)
