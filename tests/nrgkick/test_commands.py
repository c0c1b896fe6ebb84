"""What `set` and `set/<field>` accept, before anything reaches the charger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from wattbus.commands import CommandError, parse_command
from wattbus.models import ChargerMode, ChargerState
from wattbus_nrgkick.commands import NrgkickCommand, check, shown

SET = "wattbus/nrgkick/set"
STATE = ChargerState(ts=datetime(2026, 6, 1, tzinfo=UTC), charging=False, current=16.0,
                     min_current=6.0, max_current=16.0, mode=ChargerMode.NORMAL)  # fmt: skip


def parse(payload: str, field: str = "") -> NrgkickCommand:
    return parse_command(NrgkickCommand, SET, f"{SET}/{field}" if field else SET, payload.encode())


def test_plain_values_on_their_topics() -> None:
    assert parse("10", "current").current == 10.0
    assert parse("pause", "mode").mode is ChargerMode.PAUSE
    assert parse("1", "phases").phases == 1


@pytest.mark.parametrize(
    "payload",
    ['{"current": true}', '{"current": "10"}', '{"current": null}', '{"phases": 2.5}',
     '{"mode": "off"}', '{"mode": "solar"}', '{"amps": 10}', '{"current": 40}', "{}"],
)  # fmt: skip
def test_what_is_refused(payload: str) -> None:
    with pytest.raises(CommandError):
        parse(payload)


def test_the_current_is_checked_against_the_chargers_range() -> None:
    check(NrgkickCommand(current=6), STATE, can_switch=True)
    check(NrgkickCommand(current=16), STATE, can_switch=True)
    with pytest.raises(CommandError, match="6 to 16 A"):
        check(NrgkickCommand(current=16.5), STATE, can_switch=True)
    with pytest.raises(CommandError, match="not known yet"):
        check(NrgkickCommand(current=10), None, can_switch=True)


def test_phases_only_where_the_charger_switches() -> None:
    check(NrgkickCommand(phases=1), STATE, can_switch=True)
    with pytest.raises(CommandError, match="cannot switch"):
        check(NrgkickCommand(phases=1), STATE, can_switch=False)


def test_read_back_names_what_it_does_not_show() -> None:
    command = NrgkickCommand(current=10, mode=ChargerMode.PAUSE, phases=1)
    assert shown(command, STATE.model_copy(update={"current": 10.0}), 3) == [
        "mode pause (it shows normal)", "phases 1 (it shows 3)"]  # fmt: skip
