"""What a Zappi command may say, and which calls it needs, from plain values."""

from __future__ import annotations

import pytest
from wattbus.commands import CommandError, parse_command
from wattbus_myenergi.commands import Change, ZappiCommand, changes
from wattbus_myenergi.models import ZappiMode, ZappiStatus

SET = "wattbus/zappi/set"


def command(payload: str, field: str | None = None) -> ZappiCommand:
    topic = f"{SET}/{field}" if field else SET
    return parse_command(ZappiCommand, SET, topic, payload.encode())


def refusal(payload: str, field: str | None = None) -> str:
    with pytest.raises(CommandError) as caught:
        command(payload, field)
    return str(caught.value)


def status(zmo: int, *, bsm: int = 0, tbk: int = 0) -> ZappiStatus:
    return ZappiStatus.model_validate({"sno": 1, "zmo": zmo, "bsm": bsm, "tbk": tbk})


@pytest.mark.parametrize(
    ("word", "mode"),
    [("fast", ZappiMode.FAST), ("Eco", ZappiMode.ECO), ("eco+", ZappiMode.ECO_PLUS),
     ("stopped", ZappiMode.STOPPED), ("normal", ZappiMode.FAST), ("min_solar", ZappiMode.ECO),
     ("solar", ZappiMode.ECO_PLUS), ("off", ZappiMode.STOPPED)],
)  # fmt: skip
def test_a_mode_in_the_zappis_words_or_the_bus_s(word: str, mode: ZappiMode) -> None:
    assert command(f'{{"mode": "{word}"}}').mode is mode
    if word != "off":  # a plain `off` is the boolean false to the shared parser
        assert command(word, "mode").mode is mode


@pytest.mark.parametrize("name", ["Fast", "Eco", "Eco+", "Stopped"])
def test_mode_name_takes_the_zappis_own_words_as_the_select_sends_them(name: str) -> None:
    assert command(name, "mode_name").mode_name is ZappiMode(name)
    assert "Input should be one of Fast, Eco, Eco+, Stopped" in refusal("eco", "mode_name")


def test_mode_and_mode_name_together_are_refused() -> None:
    with pytest.raises(CommandError, match="one or the other"):
        changes(command('{"mode": "eco", "mode_name": "Eco"}'), status(1))


@pytest.mark.parametrize("word", ["FAST", "smart", "pause", "", "1"])
def test_other_mode_words_are_refused_with_the_list(word: str) -> None:
    assert "Input should be one of Fast, Eco, Eco+, Stopped" in refusal(f'{{"mode": "{word}"}}')


def test_true_is_not_a_boost() -> None:
    assert "Input should be a number, not a boolean" in refusal('{"boost": true}')
    assert "Input should be a number, not a boolean" in refusal("true", "boost")


@pytest.mark.parametrize("kwh", ["0", "100", "2.5", "-1"])
def test_a_boost_is_whole_kwh_from_1_to_99(kwh: str) -> None:
    assert "whole number of kWh from 1 to 99" in refusal(kwh, "boost")


def test_stop_boost_takes_only_true() -> None:
    assert command("true", "stop_boost").stop_boost is True
    assert "stop_boost takes only true" in refusal('{"stop_boost": false}')
    assert "Input should be a valid boolean" in refusal('{"stop_boost": 1}')


def test_null_and_unknown_keys_are_refused() -> None:
    assert "null sets nothing" in refusal('{"mode": null}')
    assert "Extra inputs are not permitted" in refusal('{"current": 16}')


def test_a_boost_in_eco_or_eco_plus_is_sent() -> None:
    assert changes(command('{"boost": 5}'), status(2)) == [Change("boost", kwh=5)]
    assert changes(command('{"boost": 5}'), status(3)) == [Change("boost", kwh=5)]


@pytest.mark.parametrize("zmo", [1, 4, 0])
def test_a_boost_outside_eco_is_refused_with_the_mode(zmo: int) -> None:
    with pytest.raises(CommandError, match="boost works in Eco or Eco\\+ only") as caught:
        changes(command('{"boost": 5}'), status(zmo))
    assert str(caught.value).endswith(("in Fast", "in Stopped", "in no mode"))


def test_a_boost_meets_the_mode_sent_with_it_first() -> None:
    assert changes(command('{"mode": "eco", "boost": 5}'), status(1)) == [
        Change("mode", mode=ZappiMode.ECO),
        Change("boost", kwh=5),
    ]
    with pytest.raises(CommandError, match="the Zappi will be in Fast"):
        changes(command('{"mode": "fast", "boost": 5}'), status(2))


def test_boost_and_stop_boost_together_are_refused() -> None:
    with pytest.raises(CommandError, match="one or the other"):
        changes(command('{"boost": 5, "stop_boost": true}'), status(2))


def test_what_a_status_must_show() -> None:
    assert Change("mode", mode=ZappiMode.ECO).shown(status(2))
    assert not Change("mode", mode=ZappiMode.ECO).shown(status(3))
    assert Change("boost", kwh=5).shown(status(2, bsm=1, tbk=5))
    assert not Change("boost", kwh=5).shown(status(2, bsm=0, tbk=5))
    assert not Change("boost", kwh=5).shown(status(2, bsm=1, tbk=10))
    assert Change("stop_boost").shown(status(2))
    assert not Change("stop_boost").shown(status(2, bsm=1, tbk=5))
