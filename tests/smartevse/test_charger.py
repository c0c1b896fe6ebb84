"""The charger's pure parts: its topics as a `ChargerState` in wattbus units; a command checked
against the charger as mirrored, before anything is sent; and the read-back that answers it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wattbus.commands import CommandError, parse_command
from wattbus.models import ChargerMode, EventKind
from wattbus_smartevse.charger import READERS, Unreadable, Value, charger_state, read
from wattbus_smartevse.commands import (
    PassthroughSetting,
    SmartEVSECommand,
    Write,
    passthrough_after,
    writes,
)
from wattbus_smartevse.passthrough import Passthrough
from wattbus_smartevse.readback import READ_BACK, Pending, answer

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SET = "wattbus/smartevse/set"

# what the fake (and the firmware) publishes for a car charging at 16 A on 3 phases
TOPICS = {
    "Mode": "Smart", "Access": "Allow", "ChargeCurrent": "160", "ChargeCurrentOverride": "0",
    "MaxCurrent": "160", "MaxSumMains": "25", "NrOfPhases": "3", "State": "Charging",
    "StateID": "C", "Error": "None", "EVPlugState": "Connected", "EVChargePower": "11040",
    "EVEnergyCharged": "1234", "EVTotalEnergyCharged": "98765", "WiFiRSSI": "-60",
}  # fmt: skip


def mirrored(**changes: str) -> dict[str, Value]:
    return {k: read(k, v.encode()) for k, v in (TOPICS | changes).items() if k in READERS}


def test_the_topics_become_a_charger_state_in_wattbus_units() -> None:
    state = charger_state(mirrored(), T0)
    assert state is not None
    assert state.model_dump(exclude_none=True) == {
        "ts": T0,
        "charging": True,
        "plugged": True,
        "power": 11040.0,
        "current": 16.0,
        "max_current": 16.0,
        "phases": 3,
        "session_energy": 1234.0,
        "total_energy": 98765.0,
        "mode": ChargerMode.SMART,
        "access": "allow",
    }  # fmt: skip (no override, no error: left out, as the model says)


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"ChargeCurrentOverride": "100"}, "current_override", 10.0),
        ({"Error": "Communication Error"}, "error", "Communication Error"),
        ({"Mode": "Off", "Access": "Deny"}, "mode", ChargerMode.OFF),
        ({"Mode": "N/A"}, "mode", None),
        ({"StateID": "C1", "State": "Stop Charging"}, "charging", False),
        ({"StateID": "B", "State": "Connected to EV"}, "charging", False),
        ({"EVPlugState": "Disconnected"}, "plugged", False),
    ],
)
def test_each_topic_in_its_own_words(changes: dict[str, str], field: str, value: object) -> None:
    state = charger_state(mirrored(**changes), T0)
    assert state is not None
    assert getattr(state, field) == value


def test_without_a_state_id_the_state_says_whether_it_charges() -> None:
    values = mirrored()
    del values["StateID"]
    state = charger_state(values, T0)
    assert state is not None and state.charging


def test_no_state_before_the_charger_says_whether_it_charges() -> None:
    assert charger_state({"Mode": ChargerMode.SMART}, T0) is None


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("ChargeCurrent", b"abc"),
        ("ChargeCurrent", b"16.5"),  # dA are whole
        ("MaxSumMains", b""),
        ("EVChargePower", b"nan"),
        ("NrOfPhases", b"0"),
        ("Mode", b"Turbo"),
        ("EVPlugState", b"maybe"),
        ("State", b" "),
        ("Access", b"\xff"),
    ],
)
def test_a_payload_its_topic_cannot_carry_is_unreadable(topic: str, payload: bytes) -> None:
    with pytest.raises(Unreadable):
        read(topic, payload)


def test_a_topic_not_mirrored_is_not_read() -> None:
    with pytest.raises(KeyError):
        read("WiFiRSSI", b"-60")


# --- commands ----------------------------------------------------------------------------------


def command(payload: str) -> SmartEVSECommand:
    return parse_command(SmartEVSECommand, SET, SET, payload.encode())


def test_a_mode_is_the_firmwares_word_and_reads_back_as_its_mode() -> None:
    assert writes(command('{"mode": "solar"}'), mirrored(), online=True) == [
        Write("mode", "Mode", "Solar", "Mode", ChargerMode.SOLAR)
    ]


def test_the_mode_goes_before_the_override_it_allows() -> None:
    out = writes(
        command('{"current_override": 10, "mode": "normal"}'), mirrored(Mode="Solar"), True
    )
    assert [(w.topic, w.payload) for w in out] == [("Mode", "Normal"), ("CurrentOverride", "100")]


@pytest.mark.parametrize(
    ("payload", "changes", "reason"),
    [
        ('{"current_override": 10}', {"Mode": "Solar"},
         "current_override: the charger takes one only in normal or smart mode, not solar"),
        ('{"current_override": 10, "mode": "solar"}', {},
         "current_override: the charger takes one only in normal or smart mode, not solar"),
        ('{"current_override": 10}', {"Mode": "N/A"},
         "current_override: the charger's mode is not known yet"),
        ('{"current_override": 17}', {},
         "current_override: above the charger's max current of 16 A"),
        ('{"current_override": 5.9}', {}, "current_override: below 6 A, the least it charges with"),
    ],
)  # fmt: skip
def test_an_override_the_firmware_would_ignore_is_refused_before_it_is_sent(
    payload: str, changes: dict[str, str], reason: str
) -> None:
    with pytest.raises(CommandError, match=f"^{reason}$"):
        writes(command(payload), mirrored(**changes), online=True)


def test_an_override_needs_the_chargers_max_current() -> None:
    values = mirrored()
    del values["MaxCurrent"]
    with pytest.raises(CommandError, match="max current is not known yet"):
        writes(command('{"current_override": 10}'), values, online=True)


def test_zero_clears_the_override_in_any_mode() -> None:
    out = writes(command('{"current_override": 0}'), mirrored(Mode="Solar"), online=True)
    assert out == [Write("current_override", "CurrentOverride", "0", "ChargeCurrentOverride", 0)]


def test_nothing_goes_to_an_offline_charger() -> None:
    with pytest.raises(CommandError, match=r"^the charger is offline$"):
        writes(command('{"max_sum_mains": 25}'), mirrored(), online=False)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"max_sum_mains": 5}', "max_sum_mains: Input should be 0 (off) or a whole number"),
        ('{"max_sum_mains": 25.5}', "max_sum_mains: Input should be 0 (off) or a whole number"),
        ('{"current_override": true}', "current_override: Input should be a number, not a boolean"),
        ('{"current_override": "10"}', "current_override: Input should be a number, not text"),
        ('{"current_override": null}', "current_override: null sets nothing"),
        ('{"mode": "Solar"}', "mode: Input should be"),
        ('{"reserve": 0}', "reserve: Input should be greater than 0"),
        ('{"reset": false}', "reset: Value error, reset takes only true"),
        ('{"phases": 1}', "phases: Extra inputs are not permitted"),
    ],
)
def test_a_command_is_strictly_typed(payload: str, reason: str) -> None:
    with pytest.raises(CommandError) as refused:
        command(payload)
    assert str(refused.value).startswith(reason)


def test_a_reserve_policy_needs_a_reserve_and_any_needs_a_battery() -> None:
    as_is = PassthroughSetting(Passthrough.AS_IS, None)
    with pytest.raises(CommandError, match=r"^passthrough reserve needs a reserve, in A$"):
        passthrough_after(command('{"passthrough": "reserve"}'), as_is, "zendure")
    reserve = passthrough_after(command('{"passthrough": "reserve", "reserve": 4}'), as_is, "z")
    assert reserve == PassthroughSetting(Passthrough.RESERVE, 4.0)
    # a reserve set alone is kept for when the policy is reserve
    kept = passthrough_after(command('{"reserve": 3}'), as_is, "zendure")
    assert kept == PassthroughSetting(Passthrough.AS_IS, 3.0)
    with pytest.raises(CommandError, match="no battery to pass through"):
        passthrough_after(command('{"passthrough": "as_is"}'), as_is, None)


# --- read-back ---------------------------------------------------------------------------------

MODE = Write("mode", "Mode", "Normal", "Mode", ChargerMode.NORMAL)
OVERRIDE = Write("current_override", "CurrentOverride", "100", "ChargeCurrentOverride", 100)


def pending(*w: Write) -> Pending:
    return Pending(w, {"Mode": 3, "ChargeCurrentOverride": 3}, T0 + READ_BACK, SET, "c1",
                   {"mode": "normal", "current_override": 10.0})  # fmt: skip


def test_applied_once_a_newer_message_shows_every_write() -> None:
    p = pending(MODE, OVERRIDE)
    values = mirrored(Mode="Normal", ChargeCurrentOverride="100")
    p, a = answer(p, values, {"Mode": 4, "ChargeCurrentOverride": 3}, T0)
    assert a is None  # the override's topic has not been published since
    p, a = answer(p, values, {"Mode": 4, "ChargeCurrentOverride": 4}, T0)
    assert a is not None
    assert (a.kind, a.reason) == (
        EventKind.APPLIED, "the charger shows mode normal, current_override 10.0"
    )  # fmt: skip


def test_a_value_it_had_already_is_taken_only_from_a_newer_message() -> None:
    values = mirrored(Mode="Normal")
    assert answer(pending(MODE), values, {"Mode": 3}, T0)[1] is None


def test_rejected_when_the_charger_shows_nothing_of_it_in_time() -> None:
    values = mirrored(Mode="Solar")
    p, a = answer(pending(MODE), values, {"Mode": 5}, T0 + READ_BACK - timedelta(seconds=0.1))
    assert a is None
    _, a = answer(p, values, {"Mode": 5}, T0 + READ_BACK)
    assert a is not None
    assert (a.kind, a.reason) == (
        EventKind.REJECTED,
        "the charger did not take it: mode (Mode is solar)",
    )


def test_an_error_when_it_took_only_part() -> None:
    values = mirrored(Mode="Normal", ChargeCurrentOverride="0")
    seen = {"Mode": 4, "ChargeCurrentOverride": 4}
    _, a = answer(pending(MODE, OVERRIDE), values, seen, T0 + READ_BACK)
    assert a is not None
    assert (a.kind, a.reason) == (
        EventKind.ERROR,
        "the charger took mode, but not current_override (ChargeCurrentOverride is 0)",
    )
