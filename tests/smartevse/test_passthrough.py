"""The home-battery passthrough's pure core: each policy with the worked examples of
passthrough.py (mains at -1 A in all, 230 V), and when a value is sent: on every new battery
state, again every 5 s while the state is fresh, never once it is stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wattbus.models import BatteryState, MeterState
from wattbus_smartevse.feed import Wait
from wattbus_smartevse.mains import meter_voltage
from wattbus_smartevse.passthrough import (
    REPEAT_EVERY,
    Passthrough,
    PassthroughMemory,
    PassthroughOptions,
    Send,
    Stop,
    battery_current,
    decide,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
VOLTS = 230.0
MAINS = -1.0  # A in all: 1 A exported
AS_IS = PassthroughOptions()
DISCHARGE_ONLY = PassthroughOptions(Passthrough.DISCHARGE_ONLY)
RESERVE_4 = PassthroughOptions(Passthrough.RESERVE, reserve=4.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def battery(amps: float, ts: float = 0.0, soc: float = 60.0, **extra: float) -> BatteryState:
    """A battery charging (> 0) or discharging (< 0) at `amps` at 230 V."""
    return BatteryState(ts=at(ts), soc=soc, power=amps * VOLTS, **extra)


def charger_sees(sent_da: int) -> float:
    """What the firmware's Solar mode makes of the mains: it subtracts the battery's current
    (a third from each phase; here the sum)."""
    return MAINS - sent_da / 10


@pytest.mark.parametrize(
    ("options", "amps", "sent", "seen"),
    [
        # as is: the car may use what the battery would charge with; it never takes a discharge
        (AS_IS, 10.0, 100, -11.0),
        (AS_IS, -10.0, -100, 9.0),
        # discharge only: the battery's charge is its own; a discharge is still reported
        (DISCHARGE_ONLY, 10.0, 0, -1.0),
        (DISCHARGE_ONLY, -10.0, -100, 9.0),
        # reserve 4 A: the battery's first 4 A come before the car's
        (RESERVE_4, 10.0, 60, -7.0),
        (RESERVE_4, 2.0, -20, 1.0),
        (RESERVE_4, -10.0, -140, 13.0),
    ],
)
def test_each_policy_with_its_worked_example(
    options: PassthroughOptions, amps: float, sent: int, seen: float
) -> None:
    value = battery_current(battery(amps), VOLTS, options)

    assert value == sent
    assert charger_sees(value) == pytest.approx(seen)


def test_a_full_battery_reserves_nothing() -> None:
    full = battery(0.0, soc=100.0)
    at_its_ceiling = battery(0.5, soc=90.0, soc_set=90.0)
    below_it = battery(0.5, soc=89.0, soc_set=90.0)

    assert battery_current(full, VOLTS, RESERVE_4) == 0
    assert battery_current(at_its_ceiling, VOLTS, RESERVE_4) == 5
    assert battery_current(below_it, VOLTS, RESERVE_4) == -35


def test_the_current_is_taken_at_the_meters_voltage_else_the_configured_one() -> None:
    """The mean of the phases the meter reports; a phase at 0 V is out, not a voltage."""
    meter = MeterState(ts=T0, power=0.0, voltage_l1=238.0, voltage_l2=242.0, voltage_l3=0.0)
    stored = BatteryState(ts=T0, soc=50.0, power=2400.0)

    assert meter_voltage(meter, VOLTS) == 240.0
    assert battery_current(stored, meter_voltage(meter, VOLTS), AS_IS) == 100
    assert meter_voltage(MeterState(ts=T0, power=0.0), VOLTS) == VOLTS
    assert meter_voltage(None, VOLTS) == VOLTS


def test_a_new_battery_state_is_sent_at_once() -> None:
    memory, first = decide(battery(10.0, ts=0.0), VOLTS, PassthroughMemory(), at(0.1), AS_IS)
    memory, second = decide(battery(-3.0, ts=2.0), VOLTS, memory, at(2.1), AS_IS)

    assert first == Send("100", 100, repeat=False)
    assert second == Send("-30", -30, repeat=False)


def test_the_latest_value_is_repeated_every_5_s_while_fresh_then_stops() -> None:
    """A steady battery whose bridge publishes it once: repeated while it is younger than
    30 s, then nothing."""
    steady = battery(-10.0, ts=0.0)
    memory, sent_at = PassthroughMemory(), []
    for second in range(45):
        memory, result = decide(steady, VOLTS, memory, at(second), AS_IS)
        if isinstance(result, Send):
            assert (result.payload, result.repeat) == ("-100", second > 0)
            sent_at.append(second)
        elif second >= 30:
            assert isinstance(result, Stop) and f"{second:.1f} s old" in result.reason
        else:
            assert result == Wait(at(sent_at[-1]) + REPEAT_EVERY)
    assert sent_at == [0, 5, 10, 15, 20, 25]


def test_a_shorter_limit_stops_sooner() -> None:
    options = PassthroughOptions(max_age=15.0)
    _, young = decide(battery(1.0, ts=0.0), VOLTS, PassthroughMemory(), at(14.9), options)
    _, old = decide(battery(1.0, ts=0.0), VOLTS, PassthroughMemory(), at(15.0), options)

    assert isinstance(young, Send)
    assert isinstance(old, Stop)


def test_about_one_message_a_second() -> None:
    memory, _ = decide(battery(1.0, ts=0.0), VOLTS, PassthroughMemory(), at(0.0), AS_IS)
    held, result = decide(battery(2.0, ts=0.4), VOLTS, memory, at(0.5), AS_IS)

    assert result == Wait(at(0.9)) and held == memory


def test_no_battery_or_a_battery_stamped_far_ahead_sends_nothing() -> None:
    _, offline = decide(None, VOLTS, PassthroughMemory(), at(0.0), AS_IS)
    _, ahead = decide(battery(1.0, ts=60.0), VOLTS, PassthroughMemory(), at(0.0), AS_IS)
    _, unreadable = decide(
        BatteryState(ts=T0, soc=50.0, power=float("inf")), VOLTS, PassthroughMemory(), T0, AS_IS
    )

    assert isinstance(offline, Stop) and isinstance(ahead, Stop) and isinstance(unreadable, Stop)
    assert "ahead" in ahead.reason
