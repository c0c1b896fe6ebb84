"""The shell reads the tariff bridge's windows from a real broker and carries the dispatch
policy's verdict to the battery, with who won and why in its state: the tariff and the charger
are clients under their own users that publish as their bridges would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from support.broker import Broker
from support.mqtt import Msg
from wattbus.models import ChargerState, DispatchKind, DispatchWindow, TariffState

from .conftest import BATTERY_SET, EVENTS, STATE, T0, client, controller_rig

TARIFF_STATE = "wattbus/kraken/state"
CHARGER_STATE = "wattbus/zappi/state"
WINDOW = DispatchWindow(start=T0, end=T0 + timedelta(hours=1), kind=DispatchKind.SMART)


def holds(value: bool) -> Callable[[Msg], bool]:
    return lambda m: m.json.get("hold") is value


def held_by(name: str) -> Callable[[Msg], bool]:
    def check(m: Msg) -> bool:
        verdict = m.json.get("devices", {}).get("zendure", {})
        return verdict.get("hold") is True and verdict.get("winner") == name

    return check


async def test_a_dispatch_hold_outlasts_the_car_to_the_slot_boundary_and_says_why(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with (
        controller_rig(own_broker, tmp_path, charger="zappi", tariff="kraken") as rig,
        client(own_broker, "kraken") as tariff,
        client(own_broker, "zappi") as charger,
    ):
        state = TariffState(
            ts=T0, windows=[WINDOW], active=True, current=WINDOW, source="flex", fetched=T0
        )
        await tariff.publish(TARIFF_STATE, state.model_dump_json(), qos=1, retain=True)
        mark = rig.obs.mark()
        car = ChargerState(ts=rig.clock(), charging=True)
        await charger.publish(CHARGER_STATE, car.model_dump_json(), qos=1, retain=True)
        await rig.house(600, hold=False)
        await rig.obs.wait_for(BATTERY_SET, holds(True), after=mark)
        both = await rig.obs.wait_for(STATE, held_by("ev_guard"), after=mark)
        reason = both.json["devices"]["zendure"]["reason"]
        assert reason.startswith("ev_guard: charger zappi charging; dispatch: smart window")
        assert both.json["policies"]["dispatch"]["wants"] == {"zendure": True}
        assert both.json["dispatch_until"] == WINDOW.end.isoformat().replace("+00:00", "Z")
        hold_notice = await rig.obs.wait_for(
            EVENTS, lambda m: m.json.get("code") == "dispatch_hold", after=mark
        )
        assert hold_notice.json["data"]["sign"] == "planned"

        rig.clock.advance(10 * 60)  # 18:10: the car is full; the slot runs to 18:30
        mark = rig.obs.mark()
        car = ChargerState(ts=rig.clock(), charging=False)
        await charger.publish(CHARGER_STATE, car.model_dump_json(), qos=1, retain=True)
        await rig.house(600, hold=True)
        alone = await rig.obs.wait_for(STATE, held_by("dispatch"), after=mark)
        assert alone.json["policies"]["ev_guard"]["wants"] == {"zendure": False}

        rig.clock.advance(19 * 60 + 5)  # 18:29:05: within a minute of the boundary
        mark = rig.obs.mark()
        await rig.house(600, hold=True)
        await rig.obs.wait_for(BATTERY_SET, holds(False), after=mark)
        await rig.obs.wait_for(
            EVENTS, lambda m: m.json.get("code") == "dispatch_release", after=mark
        )


async def test_a_bad_tariff_state_is_reported_and_changes_nothing(
    own_broker: Broker, tmp_path: Path
) -> None:
    async with (
        controller_rig(own_broker, tmp_path, tariff="kraken") as rig,
        client(own_broker, "kraken") as tariff,
    ):
        await rig.house(600, hold=False)
        mark = rig.obs.mark()
        await tariff.publish(TARIFF_STATE, b'{"windows": "soon"}', qos=1, retain=True)
        error = await rig.obs.wait_for(EVENTS, lambda m: m.json.get("kind") == "error", after=mark)
        assert error.json["topic"] == TARIFF_STATE
        await rig.house(700, hold=False)
        last = [m for m in rig.obs.messages if m.topic == STATE][-1]
        assert "unknown" in last.json["policies"]["dispatch"]["reason"]
