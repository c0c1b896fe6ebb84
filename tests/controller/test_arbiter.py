"""The arbiter and the core: one verdict per battery from every policy's intents, by the
written priority. Plain values and a fake clock, no broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wattbus.models import (
    ChargerState,
    ChargingStrategy,
    ControllerMode,
    DispatchKind,
    DispatchWindow,
    MeterState,
    TariffState,
)
from wattbus_controller.arbiter import OWNER, arbitrate, charger_verdicts
from wattbus_controller.charging import Target
from wattbus_controller.core import CoreSettings, Inputs, Memories, decide
from wattbus_controller.dispatch import DispatchMemory, DispatchSettings
from wattbus_controller.ev_guard import GuardInputs, GuardMemory, GuardSettings
from wattbus_controller.intents import Intent

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # a winter evening: London is on UTC
BATTERIES = ("zendure", "powerwall")


def settings(mode: ControllerMode = ControllerMode.AUTO, tariff: str | None = None) -> CoreSettings:
    return CoreSettings(
        mode,
        BATTERIES,
        GuardSettings(threshold=5000, confirm=0, charger="zappi"),
        DispatchSettings(tariff=tariff, batteries=("powerwall",)),
    )


def inputs(house: float, charging: bool | None = None, tariff: TariffState | None = None) -> Inputs:
    charger = None if charging is None else ChargerState(ts=T0, charging=charging)
    guard = GuardInputs(MeterState(ts=T0, power=house), {}, charger, True)
    return Inputs(guard, tariff, None if tariff is None else True)


def window(start: float, end: float, kind: DispatchKind = DispatchKind.SMART) -> TariffState:
    w = DispatchWindow(
        start=T0 + timedelta(minutes=start), end=T0 + timedelta(minutes=end), kind=kind
    )
    return TariffState(ts=T0, windows=[w], active=True, current=w, source="flex", fetched=T0)


NONE = Memories(GuardMemory(), DispatchMemory())


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(ControllerMode.PAUSE, True), (ControllerMode.RESUME, False), (ControllerMode.OFF, None)],
)
def test_the_owners_mode_overrides_every_policy(
    mode: ControllerMode, expected: bool | None
) -> None:
    for house, charging in ((300, False), (9000, True)):
        _, d = decide(settings(mode, "kraken"), inputs(house, charging, window(0, 60)), NONE, T0)
        assert {v.hold for v in d.verdicts.values()} == {expected}
        assert {v.winner for v in d.verdicts.values()} == {OWNER}


def test_detection_goes_on_in_manual_modes() -> None:
    after, d = decide(settings(ControllerMode.RESUME), inputs(9000), NONE, T0)
    assert after.guard.charging and d.verdicts["zendure"].hold is False
    assert d.guard.signal == "threshold"


@pytest.mark.parametrize("mode", [ControllerMode.PAUSE, ControllerMode.RESUME, ControllerMode.OFF])
def test_manual_modes_still_say_which_signal_detects(mode: ControllerMode) -> None:
    after, d = decide(settings(mode), inputs(0, True), NONE, T0)
    assert after.guard.charging and d.guard.signal == "charger"


def test_a_hold_wins_over_a_release_and_names_every_policy_that_holds() -> None:
    verdicts = arbitrate(
        ControllerMode.AUTO,
        ["powerwall"],
        [
            Intent("dispatch", "powerwall", True, "smart window running"),
            Intent("ev_guard", "powerwall", True, "charger zappi charging"),
        ],
    )
    v = verdicts["powerwall"]
    assert (v.hold, v.winner) == (True, "ev_guard")  # first in the written priority
    assert v.reason == "ev_guard: charger zappi charging; dispatch: smart window running"
    only_dispatch = arbitrate(
        ControllerMode.AUTO,
        ["powerwall"],
        [
            Intent("ev_guard", "powerwall", False, "idle"),
            Intent("dispatch", "powerwall", True, "smart window running"),
        ],
    )["powerwall"]
    assert (only_dispatch.hold, only_dispatch.winner) == (True, "dispatch")
    assert only_dispatch.reason == "smart window running"


def test_a_battery_no_policy_speaks_for_is_left_alone() -> None:
    v = arbitrate(ControllerMode.AUTO, ["zendure"], [Intent("dispatch", "other", True, "x")])
    assert (v["zendure"].hold, v["zendure"].winner) == (None, None)


def test_both_policies_wanting_the_same_battery_give_one_verdict_with_both_reasons() -> None:
    _, d = decide(settings(tariff="kraken"), inputs(600, True, window(0, 60)), NONE, T0)
    pw, zen = d.verdicts["powerwall"], d.verdicts["zendure"]
    assert pw.hold and zen.hold
    assert pw.reason.startswith("ev_guard: charger zappi charging; dispatch: smart window")
    assert zen.reason == "charger zappi charging"  # dispatch holds only the Powerwall
    assert d.policies["dispatch"].wants == {"powerwall": True}
    assert d.policies["ev_guard"].wants == {"zendure": True, "powerwall": True}


def test_without_a_tariff_there_is_no_dispatch_policy() -> None:
    _, d = decide(settings(), inputs(600, True), NONE, T0)
    assert d.dispatch is None and set(d.policies) == {"ev_guard"}


def test_dispatch_alone_holds_a_battery_the_guard_leaves_to_it() -> None:
    s = settings(tariff="kraken")
    s = CoreSettings(s.mode, s.batteries, s.guard, s.dispatch, guard_batteries=("zendure",))
    _, d = decide(s, inputs(600, True, window(0, 60)), NONE, T0)
    assert set(d.policies["ev_guard"].wants) == {"zendure"}
    assert (d.verdicts["powerwall"].hold, d.verdicts["powerwall"].winner) == (True, "dispatch")


def test_dispatch_takes_the_chargers_word_as_it_stands_not_after_the_guards_wait() -> None:
    """The guard keeps a session `release` s after the charger stops; dispatch does not wait
    for that (its hold ends at the next slot boundary), so the car counts as stopped."""
    s = settings(tariff="kraken")
    s = CoreSettings(
        s.mode,
        s.batteries,
        GuardSettings(threshold=5000, release=120, charger="zappi"),
        s.dispatch,
    )
    m, _ = decide(s, inputs(600, True, window(0, 60)), NONE, T0)
    _, d = decide(s, inputs(600, False, window(0, 60)), m, T0)
    assert d.guard.charging  # the guard waits
    assert (
        d.dispatch is not None
        and "car not drawing (charger zappi not charging)" in d.dispatch.reason
    )


# --- chargers


def _target(strategy: ChargingStrategy = ChargingStrategy.TRACKED) -> Target:
    return Target("pause", strategy, "tracked: surplus 100 W, needs 4140 W")


def test_the_owners_off_leaves_every_charger_alone() -> None:
    v = charger_verdicts(ControllerMode.OFF, {"nrgkick": _target()}, None)["nrgkick"]
    assert (v.action, v.winner) == ("leave", "owner")


def test_a_smart_window_is_the_suppliers_unless_the_owner_switched_the_charger_off() -> None:
    v = charger_verdicts(ControllerMode.AUTO, {"a": _target()}, "smart window 01:00-02:00")
    assert v["a"].winner == "dispatch"
    assert v["a"].reason.startswith("smart window 01:00-02:00: the supplier charges")
    off = charger_verdicts(
        ControllerMode.AUTO, {"a": _target(ChargingStrategy.OFF)}, "smart window"
    )
    assert off["a"].winner == "charging"
