"""The mains feed's pure core: a `MeterState` as `Set/MainsMeter` in the firmware's format and
signs, clamped into its range with a report, the five-field form, the total-power split; when a
reading may be fed (fresh, once, about one a second); and the settings that set all of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from wattbus.models import EventKind, MeterState
from wattbus.settings import describe_error
from wattbus_smartevse.feed import (
    MAINS_CLAMPED,
    Feed,
    FeedMemory,
    FeedOptions,
    NotFed,
    Skip,
    Wait,
    decide,
)
from wattbus_smartevse.mains import UNKNOWN, mains_meter
from wattbus_smartevse.passthrough import Passthrough
from wattbus_smartevse.settings import SmartEVSESettings

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
THREE = FeedOptions()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def reading(ts: float = 0.0, **values: Any) -> MeterState:
    """A house importing on L1 and L2 and exporting on L3, as the Shelly bridge signs it."""
    base: dict[str, Any] = dict(
        power=690.0 + 460.0 - 1150.0,
        power_l1=690.0, power_l2=460.0, power_l3=-1150.0,
        current_l1=3.0, current_l2=2.0, current_l3=-5.0,
        voltage_l1=230.0, voltage_l2=230.0, voltage_l3=230.0,
        energy_import=1520333.4, energy_export=731045.7,
    )  # fmt: skip
    return MeterState(ts=at(ts), **(base | values))


def fed(result: Feed | Wait | Skip) -> Feed:
    assert isinstance(result, Feed), result
    return result


# --- the message ------------------------------------------------------------------------------


def test_per_phase_currents_in_deci_amps_with_import_positive() -> None:
    mains = mains_meter(reading(), phases=3, voltage=230.0)

    assert mains.currents == (30, 20, -50)
    assert mains.payload(five_fields=False) == "30:20:-50"
    assert not mains.split


def test_each_phase_takes_the_sign_of_its_own_power() -> None:
    """A meter bridge that sent its currents unsigned still feeds an exporting phase as < 0."""
    unsigned = reading(current_l3=5.0)
    flipped = reading(current_l1=-3.0)  # a current whose sign disagrees with its power

    assert mains_meter(unsigned, phases=3, voltage=230.0).currents == (30, 20, -50)
    assert mains_meter(flipped, phases=3, voltage=230.0).currents == (30, 20, -50)


def test_deci_amps_are_rounded_not_cut() -> None:
    mains = mains_meter(reading(current_l1=3.06, current_l2=1.94), phases=3, voltage=230.0)
    assert mains.currents[:2] == (31, 19)


def test_the_five_field_form_adds_total_power_and_imported_energy() -> None:
    mains = mains_meter(reading(power=1234.4), phases=3, voltage=230.0)
    assert mains.payload(five_fields=True) == "30:20:-50:1234:1520333"


def test_an_export_is_a_negative_power_and_unknown_energy_is_minus_one() -> None:
    mains = mains_meter(reading(power=-812.6, energy_import=None), phases=3, voltage=230.0)
    assert mains.payload(five_fields=True) == f"30:20:-50:-813:{UNKNOWN}"


def test_a_phase_outside_the_firmwares_range_is_clamped_and_named() -> None:
    """The firmware drops a whole message with any phase at ±2000 dA or beyond."""
    mains = mains_meter(reading(current_l1=250.0, current_l3=-200.0), phases=3, voltage=230.0)

    assert mains.currents == (1999, 20, -1999)
    assert [(c.phase, c.measured, c.sent) for c in mains.clamped] == [
        (1, 2500, 1999),
        (3, -2000, -1999),
    ]
    assert not mains_meter(reading(current_l1=199.9), phases=3, voltage=230.0).clamped


def test_a_meter_without_phase_currents_splits_its_total_power_and_says_so() -> None:
    only_total = MeterState(ts=T0, power=6900.0)

    three = mains_meter(only_total, phases=3, voltage=230.0)
    one = mains_meter(only_total, phases=1, voltage=230.0)

    assert three.split and one.split
    assert three.currents == (100, 100, 100)  # 2300 W per phase at 230 V: 10 A each
    assert one.currents == (300, 0, 0)  # all of it on L1: 30 A


def test_the_split_uses_the_meters_voltage_when_it_has_one() -> None:
    state = MeterState(ts=T0, power=-2400.0, voltage_l1=240.0)
    assert mains_meter(state, phases=1, voltage=230.0).currents == (-100, 0, 0)
    assert mains_meter(state, phases=3, voltage=200.0).currents == (-33, -40, -40)


def test_a_missing_phase_current_means_a_split_not_a_guess() -> None:
    mains = mains_meter(reading(current_l2=None, power=690.0), phases=3, voltage=230.0)
    assert mains.split and mains.currents == (10, 10, 10)


def test_a_single_phase_house_feeds_l1_and_zero_on_the_others() -> None:
    mains = mains_meter(reading(), phases=1, voltage=230.0)
    assert not mains.split and mains.currents == (30, 0, 0)


# --- the decision -----------------------------------------------------------------------------


def test_a_fresh_reading_is_fed_once() -> None:
    memory, result = decide(reading(ts=0.0), FeedMemory(), at(0.3), THREE)
    assert fed(result).payload == "30:20:-50"

    memory, again = decide(reading(ts=0.0), memory, at(4.0), THREE)
    assert isinstance(again, Skip) and again.why is NotFed.SENT


def test_a_reading_at_the_age_limit_is_not_fed() -> None:
    _, young = decide(reading(ts=0.0), FeedMemory(), at(4.9), THREE)
    _, old = decide(reading(ts=0.0), FeedMemory(), at(5.0), THREE)
    _, tighter = decide(reading(ts=0.0), FeedMemory(), at(2.5), FeedOptions(max_age=2.0))

    fed(young)
    assert isinstance(old, Skip) and old.why is NotFed.STALE
    assert "5.0 s old" in old.reason
    assert isinstance(tighter, Skip) and tighter.why is NotFed.STALE


def test_a_silent_meter_stops_the_feed_and_nothing_is_repeated() -> None:
    """Readings each second, then none: the last one is fed once and never again."""
    memory, sent = FeedMemory(), []
    for second in range(12):
        state = reading(ts=min(second, 3))  # the meter's last reading is at 3 s
        memory, result = decide(state, memory, at(second + 0.2), THREE)
        if isinstance(result, Feed):
            sent.append(second)
    assert sent == [0, 1, 2, 3]


def test_an_offline_meter_feeds_nothing() -> None:
    _, result = decide(None, FeedMemory(), at(0.0), THREE)
    assert isinstance(result, Skip) and result.why is NotFed.NO_READING


def test_a_reading_stamped_far_ahead_is_not_fed() -> None:
    _, result = decide(reading(ts=60.0), FeedMemory(), at(0.0), THREE)
    assert isinstance(result, Skip) and result.why is NotFed.AHEAD


def test_about_one_message_a_second() -> None:
    memory, _ = decide(reading(ts=0.0), FeedMemory(), at(0.0), THREE)

    held, result = decide(reading(ts=0.5), memory, at(0.6), THREE)

    assert result == Wait(at(0.9))
    assert held == memory
    memory, later = decide(reading(ts=0.8), held, at(0.9), THREE)
    assert fed(later).payload == "30:20:-50"
    assert memory.sent_at == at(0.9) and memory.reading == at(0.8)


def test_a_meter_read_every_second_is_fed_at_once_reading_after_reading() -> None:
    """Readings 1 s apart come a few ms early or late; a wait ends a little after its time
    (the shell's own latency). With a strict 1 s gap each early reading waited for a send
    that had itself come late, and the lag climbed by that much every reading."""
    memory, worst = FeedMemory(), 0.0
    for second in range(300):
        jitter = (-0.004, 0.003, -0.002, 0.004)[second % 4]
        now = second + 0.001 + jitter
        memory, result = decide(reading(ts=second + jitter), memory, at(now), THREE)
        while isinstance(result, Wait):
            now = (result.until - T0).total_seconds() + 0.0011
            memory, result = decide(reading(ts=second + jitter), memory, at(now), THREE)
        assert isinstance(result, Feed)
        worst = max(worst, now - second)
    assert worst < 0.01


def test_the_five_field_option_and_the_split_reach_the_message() -> None:
    options = FeedOptions(phases=1, five_fields=True)
    _, result = decide(MeterState(ts=T0, power=2300.0), FeedMemory(), at(0.1), options)

    feed = fed(result)
    assert feed.payload == f"100:0:0:2300:{UNKNOWN}"
    assert feed.mains.split


def test_clamping_is_reported_once_per_streak() -> None:
    memory, first = decide(reading(ts=0.0, current_l2=210.0), FeedMemory(), at(0.0), THREE)
    memory, second = decide(reading(ts=1.0, current_l2=215.0), memory, at(1.0), THREE)
    memory, in_range = decide(reading(ts=2.0), memory, at(2.0), THREE)
    memory, again = decide(reading(ts=3.0, current_l3=-300.0), memory, at(3.0), THREE)

    notice = fed(first).notice
    assert notice is not None
    assert (notice.kind, notice.code) == (EventKind.NOTICE, MAINS_CLAMPED)
    assert notice.data == {"measured": {"l2": 210.0}, "sent": {"l2": 199.9}}
    assert "L2 210 A as 199.9 A" in notice.reason
    assert fed(first).payload == "30:1999:-50"
    assert fed(second).notice is None and fed(second).payload == "30:1999:-50"
    assert fed(in_range).notice is None
    again_notice = fed(again).notice
    assert again_notice is not None and again_notice.data == {
        "measured": {"l3": -300.0},
        "sent": {"l3": -199.9},
    }


def test_a_reading_with_no_usable_power_is_not_fed() -> None:
    state = MeterState(ts=T0, power=float("nan"))
    _, result = decide(state, FeedMemory(), at(0.0), THREE)
    assert isinstance(result, Skip) and result.why is NotFed.UNREADABLE


# --- settings ---------------------------------------------------------------------------------

PREFIX = {"prefix": "SmartEVSE/12345"}


def test_the_defaults_feed_three_fields_from_the_grid_meter() -> None:
    s = SmartEVSESettings.only(**PREFIX)

    assert (s.id, s.prefix, s.meter, s.battery) == (
        "smartevse",
        "SmartEVSE/12345",
        "grid-meter",
        None,
    )
    assert s.feed == FeedOptions(phases=3, voltage=230.0, five_fields=False, max_age=5.0)
    assert s.passthrough is Passthrough.AS_IS and s.battery_max_age == 30.0


def test_every_option_as_an_environment_variable_would_give_it() -> None:
    s = SmartEVSESettings.only(
        **PREFIX, battery="zendure", five_fields="true", phases="1", voltage="240",
        meter_max_age="3", battery_max_age="20", passthrough="reserve", reserve="4",
    )  # fmt: skip

    assert s.feed == FeedOptions(phases=1, voltage=240.0, five_fields=True, max_age=3.0)
    options = s.passthrough_options
    assert (options.policy, options.reserve, options.max_age) == (Passthrough.RESERVE, 4.0, 20.0)


BAD: list[tuple[dict[str, Any], str]] = [
    ({}, "prefix"),  # no default: it holds the unit's serial
    ({"prefix": "SmartEVSE/+"}, "prefix"),
    ({"prefix": "SmartEVSE/"}, "prefix"),
    ({**PREFIX, "meter": "a/b"}, "meter"),
    ({**PREFIX, "battery": "zen#"}, "battery"),
    ({**PREFIX, "battery": "grid-meter"}, "battery"),
    ({**PREFIX, "id": "grid-meter"}, "id"),
    ({**PREFIX, "phases": 2}, "phases"),
    ({**PREFIX, "phases": "2"}, "phases"),
    ({**PREFIX, "phases": True}, "phases"),
    ({**PREFIX, "voltage": 0}, "voltage"),
    ({**PREFIX, "voltage": "nan"}, "voltage"),
    ({**PREFIX, "voltage": 400}, "voltage"),
    ({**PREFIX, "meter_max_age": 1}, "meter_max_age"),
    ({**PREFIX, "meter_max_age": 11}, "meter_max_age"),
    ({**PREFIX, "meter_max_age": "inf"}, "meter_max_age"),
    ({**PREFIX, "battery_max_age": 5}, "battery_max_age"),
    ({**PREFIX, "battery_max_age": 61}, "battery_max_age"),
    ({**PREFIX, "passthrough": "both"}, "passthrough"),
    ({**PREFIX, "passthrough": "reserve"}, "reserve"),
    ({**PREFIX, "passthrough": "reserve", "reserve": 0}, "reserve"),
    ({**PREFIX, "passthrough": "reserve", "reserve": 101}, "reserve"),
    ({**PREFIX, "reserve": 4}, "reserve"),
    ({**PREFIX, "five_fields": "maybe"}, "five_fields"),
]


@pytest.mark.parametrize(("values", "field"), BAD)
def test_a_setting_that_cannot_work_is_refused_on_its_variable(
    values: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        SmartEVSESettings.only(**values)

    assert [e["loc"][0] for e in caught.value.errors()] == [field]
    line = describe_error(caught.value, SmartEVSESettings)
    assert line.startswith(f"WATTBUS_SMARTEVSE_{field.upper()} ") and "\n" not in line
