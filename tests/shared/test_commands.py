"""Command parsing as a fuzzer sees it: every payload is answered (parsed or refused with a
reason), types are strict, ranges are the documented ones, null sets nothing, and an `id` is
echoed only when it can be written back. Then, on a real broker, the payloads that used to
crash the parser get their `rejected` answer from every kind of service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TypeVar, get_args

import pytest
from pydantic import BaseModel
from support.home import Home
from support.mqtt import observer
from wattbus.commands import CommandError, parse_command
from wattbus.models import BatteryCommand, Command, ControllerCommand, PlugCommand
from wattbus_kraken.service import KrakenCommand
from wattbus_myenergi.commands import ZappiCommand
from wattbus_nrgkick.commands import NrgkickCommand
from wattbus_powerwall.commands import PowerwallCommand
from wattbus_smartevse.commands import SmartEVSECommand

SET = "wattbus/x/set"
C = TypeVar("C", bound=Command)
MODELS: list[type[Command]] = [
    BatteryCommand,
    ControllerCommand,
    SmartEVSECommand,
    ZappiCommand,
    KrakenCommand,
    PowerwallCommand,
    NrgkickCommand,
    PlugCommand,
]
# per model: one good value per field, as JSON, for the payloads built below
GOOD: dict[type[Command], dict[str, object]] = {
    BatteryCommand: {"min_soc": 20, "output_limit": 600.5, "hold": True, "lease": 120},
    ControllerCommand: {
        "mode": "pause",
        "threshold": 4000,
        "confirm": 3,
        "release": 120,
        "strategy": "tracked",
        "strategies": {"nrgkick": "fast"},
        "reset": True,
    },
    SmartEVSECommand: {
        "mode": "solar",
        "current_override": 10,
        "max_sum_mains": 25,
        "passthrough": "reserve",
        "reserve": 4.5,
        "reset": True,
    },
    ZappiCommand: {"mode": "Eco+", "mode_name": "Eco", "boost": 5, "stop_boost": True},
    KrakenCommand: {"refresh": True},
    PowerwallCommand: {"reserve": 30, "operation": "backup", "hold": True, "lease": 120},
    NrgkickCommand: {"current": 10, "mode": "pause", "phases": 1},
    PlugCommand: {"on": False},
}
NUMBER_FIELDS = [
    (model, field)
    for model in MODELS
    for field, v in GOOD[model].items()
    if type(v) in (int, float)
]


def _types(annotation: object) -> Iterator[object]:
    """Every type named in an annotation: `bool` in `Annotated[bool, Strict()] | None`."""
    yield annotation
    for arg in get_args(annotation):
        yield from _types(arg)


# found from the models, so a boolean or true-only field added later is covered too
BOOLEAN_FIELDS = [
    (model, name)
    for model in MODELS
    for name, info in model.model_fields.items()
    if bool in _types(info.annotation)
]
DEEP = b"[" * 1500 + b"]" * 1500
HUGE = b'{"x": ' + b"9" * 5000 + b"}"


def parse(model: type[C], payload: bytes | str, field: str | None = None) -> C:
    data = payload.encode() if isinstance(payload, str) else payload
    return parse_command(model, SET, f"{SET}/{field}" if field else SET, data)


def refused(model: type[Command], payload: bytes | str, field: str | None = None) -> CommandError:
    with pytest.raises(CommandError) as caught:
        parse(model, payload, field)
    assert str(caught.value), "a refusal always has a reason"
    return caught.value


def test_every_model_is_covered() -> None:
    assert set(GOOD) == set(Command.__subclasses__())
    for model in MODELS:
        assert set(GOOD[model]) == set(model.model_fields) - {"id"}


@pytest.mark.parametrize("model", MODELS)
def test_good_values_are_applied_on_both_forms(model: type[Command]) -> None:
    command = parse(model, json.dumps(GOOD[model]))
    assert json.loads(command.model_dump_json(exclude={"id"})) == GOOD[model]
    for field, value in GOOD[model].items():
        plain = value if isinstance(value, str) else json.dumps(value)
        one = parse(model, f" {plain}\n", field)
        assert json.loads(one.model_dump_json(exclude_none=True)) == {field: value}


@pytest.mark.parametrize(("model", "field"), NUMBER_FIELDS)
@pytest.mark.parametrize("value", ["true", "false", '"20"', "[20]", '{"v": 20}'])
def test_a_number_field_takes_json_numbers_only(
    model: type[Command], field: str, value: str
) -> None:
    assert field in str(refused(model, f'{{"{field}": {value}}}'))


@pytest.mark.parametrize(("model", "field"), NUMBER_FIELDS)
@pytest.mark.parametrize(
    "text", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 400 + ".0"]
)
def test_a_number_is_finite(model: type[Command], field: str, text: str) -> None:
    assert field in str(refused(model, f'{{"{field}": {text}}}'))


@pytest.mark.parametrize(("model", "field"), NUMBER_FIELDS)
@pytest.mark.parametrize(
    "text",
    ["nan", "inf", "-inf", "1e999", "", "  ", "true", "ON", "20 W", "0x10", "+5", ".5", "5."],
)
def test_a_plain_number_is_spelt_as_json_writes_it(
    model: type[Command], field: str, text: str
) -> None:
    refused(model, text, field)


@pytest.mark.parametrize(
    ("model", "field", "text", "value"),
    [
        (BatteryCommand, "min_soc", "20", 20.0),
        (BatteryCommand, "min_soc", "20.0", 20.0),  # Home Assistant's number entity
        (BatteryCommand, "output_limit", "1e2", 100.0),
        (ControllerCommand, "threshold", "4000", 4000.0),
    ],
)
def test_a_plain_number_as_home_assistant_and_mosquitto_pub_send_it(
    model: type[Command], field: str, text: str, value: float
) -> None:
    assert getattr(parse(model, text, field), field) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [("ON", True), ("OFF", False), ("on", True), ("true", True), ("false", False), ("True", True)],
)
def test_a_plain_boolean_as_home_assistant_node_red_and_mosquitto_pub_send_it(
    text: str, value: bool
) -> None:
    assert parse(BatteryCommand, text, "hold").hold is value


@pytest.mark.parametrize(
    ("text", "value"), [("ON", True), ("OFF", False), ("on", True), ("off", False), ("true", True)]
)
def test_a_plugs_relay_as_home_assistants_switch_sends_it(text: str, value: bool) -> None:
    """`set/on`: a boolean field, so a plain `off` is false (it has no option `off`)."""
    assert parse(PlugCommand, text, "on").on is value


@pytest.mark.parametrize("text", ["1", "0", "yes", "null", '"on"'])
def test_a_plugs_relay_refuses_numbers_and_other_words(text: str) -> None:
    assert "on" in str(refused(PlugCommand, text, "on"))
    refused(PlugCommand, json.dumps({"on": text}))


@pytest.mark.parametrize("text", ["off", " off "])
def test_a_plain_off_is_the_option_off_where_the_field_is_a_mode(text: str) -> None:
    """`mosquitto_pub -t .../set/mode -m off`, and a Home Assistant select with an `off`
    option: the mode meant, not the boolean false."""
    assert parse(ControllerCommand, text, "mode").mode == "off"
    assert parse(SmartEVSECommand, text, "mode").mode == "off"


@pytest.mark.parametrize("text", ["1", "0", "1.0", "yes", "no", "", "null", '"on"', "maybe"])
def test_a_boolean_field_refuses_numbers_and_other_words(text: str) -> None:
    assert "hold" in str(refused(BatteryCommand, text, "hold")) or text.strip() == ""


@pytest.mark.parametrize("value", [1, 0, "true", "on", "ON"])
def test_a_json_boolean_is_a_json_boolean(value: object) -> None:
    assert "hold" in str(refused(BatteryCommand, json.dumps({"hold": value})))


def test_the_boolean_fields_are_found_from_the_models() -> None:
    found = {(m.__name__, name) for m, name in BOOLEAN_FIELDS}
    assert {("PowerwallCommand", "hold"), ("SmartEVSECommand", "reset"),
            ("KrakenCommand", "refresh"), ("ZappiCommand", "stop_boost")} <= found  # fmt: skip


@pytest.mark.parametrize(("model", "field"), BOOLEAN_FIELDS)
@pytest.mark.parametrize("value", [1, "true", 0])
def test_every_boolean_field_takes_json_booleans_only(
    model: type[Command], field: str, value: object
) -> None:
    assert field in str(refused(model, json.dumps({field: value})))


@pytest.mark.parametrize("text", ["Pause", "PAUSE", " pa use", "1", "true", "pause!"])
def test_an_enum_takes_its_exact_options(text: str) -> None:
    refused(ControllerCommand, text, "mode")
    refused(ControllerCommand, json.dumps({"mode": text}))


@pytest.mark.parametrize(
    ("model", "field", "bad", "edges"),
    [
        (BatteryCommand, "min_soc", [-0.1, 100.1], [0, 100]),
        (BatteryCommand, "output_limit", [-1, 100_000.1], [0, 100_000]),
        (BatteryCommand, "lease", [0, 1e-9, 9.9, 86_400.1], [10, 86_400]),
        (ControllerCommand, "threshold", [0, 99.9, 50_000.1, True], [100, 50_000]),
        (ControllerCommand, "confirm", [-1, 1e-9, 0.0001, 0.49, 3600.1], [0, 0.5, 3600]),
        (ControllerCommand, "release", [-1, 1e-9, 0.0001, 0.999, 3600.1], [0, 1, 3600]),
    ],
)
def test_ranges_are_the_documented_ones(
    model: type[Command], field: str, bad: list[float], edges: list[float]
) -> None:
    extra = {"hold": True} if field == "lease" else {}
    for value in bad:
        assert field in str(refused(model, json.dumps({field: value, **extra})))
        if not isinstance(value, bool):
            refused(model, json.dumps(value), field)
    for value in edges:
        assert getattr(parse(model, json.dumps({field: value, **extra})), field) == value


@pytest.mark.parametrize("model", MODELS)
def test_null_sets_nothing_and_is_refused(model: type[Command]) -> None:
    for field in GOOD[model]:
        reason = str(refused(model, json.dumps({field: None})))
        assert "null sets nothing" in reason and field in reason
        beside = refused(model, json.dumps({**GOOD[model], field: None, "id": "n1"}))
        assert beside.command_id == "n1", "the rest is valid, but null beside it is refused"
    refused(model, json.dumps({"id": None}))
    refused(model, json.dumps({"id": "only-an-id"}))
    refused(model, b"{}")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    "payload",
    [
        DEEP,
        b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        HUGE,
        b'{"min_soc": -' + b"9" * 5000 + b"}",
        b"9" * 5000,
        b"x" * 70_000,
        b'{"k": 1, "k": 2}',
        b"\xff\xfe",
        b"",
        b"null",
        b"[]",
        b'"text"',
        b"\x00",
        b'{"\\ud800": 1}',
        b'{"mode": "\\udfff"}',
    ],
)
def test_any_payload_is_answered_with_a_reason(model: type[Command], payload: bytes) -> None:
    refused(model, payload)
    for field in set(model.model_fields) - {"id"}:
        refused(model, payload, field)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    "bad_id",
    [
        True,
        False,
        "\ud800",
        "a\ud800b",
        "",
        "x" * 129,
        "tab\there",
        "line\n",
        2**53 + 1,
        1.5,
        [1],
        {},
    ],
)
def test_an_id_that_cannot_be_echoed_refuses_the_command_and_is_not_echoed(
    model: type[Command], bad_id: object
) -> None:
    payload = json.dumps({**GOOD[model], "id": bad_id})
    error = refused(model, payload)
    assert error.command_id is None
    assert "id" in str(error)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("good_id", ["n1", "x" * 128, "café ☕", 0, -7, 2**53])
def test_a_valid_id_is_echoed_when_applied_and_when_refused(
    model: type[Command], good_id: str | int
) -> None:
    assert parse(model, json.dumps({**GOOD[model], "id": good_id})).id == good_id
    bad = refused(model, json.dumps({"colour": "red", "id": good_id}))
    assert bad.command_id == good_id


@pytest.mark.parametrize("model", MODELS)
def test_an_answer_to_any_command_can_be_serialised(model: type[Command]) -> None:
    """What failed before: a command applied, then its answer could not be written."""
    command = parse(model, json.dumps({**GOOD[model], "id": "ok"}))
    assert isinstance(command, BaseModel)
    command.model_dump_json()


# --- on the bus: the payloads that once went unanswered, to each kind of service -------------


@pytest.mark.parametrize(
    ("service", "device", "field", "good"),
    [
        ("zendure", "zendure", "min_soc", 20),
        ("controller", "controller", "threshold", 4000),
        ("shelly", "grid-meter", "power", 0),  # a meter takes no commands, and says so
    ],
)
async def test_every_service_answers_the_payloads_that_crashed_the_parser(
    home: Home, service: str, device: str, field: str, good: int
) -> None:
    async with observer(home.broker) as obs:
        home.service(service)
        await obs.wait_for(f"wattbus/{device}/state")
        for topic in (f"wattbus/{device}/set", f"wattbus/{device}/set/{field}"):
            for payload in (DEEP, HUGE):
                mark = obs.mark()
                await obs.publish(topic, payload)
                answer = await obs.wait_for(f"wattbus/{device}/event", after=mark)
                assert answer.json["kind"] == "rejected", (topic, answer.json)
                assert answer.json["reason"]
        # an id that cannot be written back: refused before anything is applied, not echoed
        mark = obs.mark()
        unreadable_id = f'{{"id": "\\ud800", "{field}": {good}}}'
        await obs.publish(f"wattbus/{device}/set", unreadable_id)
        answer = await obs.wait_for(f"wattbus/{device}/event", after=mark)
        assert answer.json["kind"] == "rejected" and "id" not in answer.json
        assert home.zendure.state.writes == []
        assert home.procs[service].alive()
