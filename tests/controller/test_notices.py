"""The controller's decisions as notices: pure from the memory change, and on the real bus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support.broker import Broker
from support.mqtt import Msg
from wattbus.models import ControllerMode
from wattbus_controller import core
from wattbus_controller.arbiter import arbitrate
from wattbus_controller.ev_guard import Decision, GuardMemory, GuardSettings
from wattbus_controller.intents import Intent
from wattbus_controller.memory import Memory
from wattbus_controller.notices import notices

from .conftest import EVENTS, T0, controller_rig

S = GuardSettings(threshold=5000)
IDLE = Memory()
CHARGING = Memory(guard=GuardMemory(charging=True), asserted=frozenset({"zendure"}))
RELEASING = Memory(releasing=frozenset({"zendure"}))


def decided(guard: Decision) -> core.Decision:
    """What the core makes of the guard's decision alone, in `auto`."""
    verdicts = arbitrate(
        ControllerMode.AUTO, ["zendure"], [Intent("ev_guard", "zendure", guard.hold, guard.reason)]
    )
    return core.Decision(guard, None, verdicts, {})


def codes(before: Memory, after: Memory, hold: bool = True) -> list[str | None]:
    decision = Decision(hold, after.guard.charging, 9000.0, "why", "threshold")
    return [n.code for n in notices(before, after, decided(decision), S, T0)]


def test_a_session_that_starts_and_holds_makes_two_notices() -> None:
    decision = Decision(True, True, 9000.0, "house 9000 W above 5000 W for 3 s", "threshold")
    detected, held = notices(IDLE, CHARGING, decided(decision), S, T0)
    assert (detected.kind, detected.code) == ("notice", "ev_detected")
    assert detected.data == {"house_power": 9000.0, "threshold": 5000, "signal": "threshold"}
    assert held.code == "battery_held"
    assert held.data == {"battery": "zendure", "why": "house 9000 W above 5000 W for 3 s"}


def test_a_session_that_ends_and_releases_makes_two_notices() -> None:
    assert codes(CHARGING, RELEASING, hold=False) == ["ev_ended", "battery_released"]


def test_renewals_and_resends_make_no_notice() -> None:
    assert codes(CHARGING, CHARGING) == []
    assert codes(RELEASING, RELEASING, hold=False) == []


def test_releasing_a_hold_someone_else_placed_says_so() -> None:
    decision = Decision(False, False, 600.0, "idle: house 600 W", "threshold")
    (released,) = notices(IDLE, RELEASING, decided(decision), S, T0)
    assert released.data is not None
    assert released.data["why"] == "a hold the controller did not place; idle: house 600 W"


def is_notice(code: str) -> Callable[[Msg], bool]:
    return lambda m: m.json.get("kind") == "notice" and m.json.get("code") == code


async def test_the_controller_announces_its_decisions_on_its_event_topic(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with controller_rig(own_broker, tmp_path, threshold=5000) as rig:
        await rig.house(600, hold=False)
        mark = rig.obs.mark()
        await rig.house(9000, hold=False)
        detected = await rig.obs.wait_for(EVENTS, is_notice("ev_detected"), after=mark)
        assert detected.json["data"]["threshold"] == 5000
        assert detected.json["data"]["house_power"] > 9000  # with what the battery delivers
        held = await rig.obs.wait_for(EVENTS, is_notice("battery_held"), after=mark)
        assert held.json["data"]["battery"] == "zendure"

        await rig.house(9000, hold=True)
        mark = rig.obs.mark()
        await rig.house(600, hold=True)
        ended = await rig.obs.wait_for(EVENTS, is_notice("ev_ended"), after=mark)
        assert ended.json["data"]["threshold"] == 5000
        assert 600 < ended.json["data"]["house_power"] < 5000
        released = await rig.obs.wait_for(EVENTS, is_notice("battery_released"), after=mark)
        assert released.json["data"]["battery"] == "zendure"
