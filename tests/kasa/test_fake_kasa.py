"""The fake plug's wire format, checked against python-kasa's own XOR, and its answers to what
no HS110 has."""

from __future__ import annotations

import asyncio
import json

from kasa.transports.xortransport import XorEncryption
from wattbus_simulator.fake_kasa import FakeKasa, decrypt, encrypt


def test_the_xor_is_python_kasas() -> None:
    text = json.dumps({"system": {"get_sysinfo": {}}})
    assert encrypt(text) == XorEncryption.encrypt(text)
    assert decrypt(encrypt(text)[4:]) == text


async def ask(fake: FakeKasa, request: object) -> dict[str, object]:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    try:
        writer.write(encrypt(json.dumps(request)))
        length = int.from_bytes(await reader.readexactly(4), "big")
        answer: dict[str, object] = json.loads(decrypt(await reader.readexactly(length)))
        return answer
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_module_or_method_the_plug_lacks_is_an_error_code(fake: FakeKasa) -> None:
    answer = await ask(fake, {"smartlife.iot.dimmer": {"set_brightness": {}},
                              "system": {"reboot": {}}})  # fmt: skip
    assert answer["smartlife.iot.dimmer"] == {"err_code": -1, "err_msg": "module not support"}
    assert answer["system"] == {"reboot": {"err_code": -2, "err_msg": "member not support"}}


async def test_a_relay_state_that_is_no_0_or_1_is_refused(fake: FakeKasa) -> None:
    for state in (2, True, "1"):
        answer = await ask(fake, {"system": {"set_relay_state": {"state": state}}})
        refused = {"err_code": -3, "err_msg": "invalid argument"}
        assert answer == {"system": {"set_relay_state": refused}}
    assert fake.state.relay and fake.faults.writes == []


async def test_the_load_draws_only_while_the_relay_is_on(fake: FakeKasa) -> None:
    await ask(fake, {"system": {"set_relay_state": {"state": 0}}})
    off = await ask(fake, {"emeter": {"get_realtime": {}}})
    await ask(fake, {"system": {"set_relay_state": {"state": 1}}})
    on = await ask(fake, {"emeter": {"get_realtime": {}}})
    dark = {"voltage_mv": 229_600, "current_ma": 0, "power_mw": 0, "total_wh": 183_742}
    assert off["emeter"] == {"get_realtime": {**dark, "err_code": 0}}
    assert on["emeter"] == {"get_realtime": {**dark, "current_ma": 1794, "power_mw": 412_000,
                                             "err_code": 0}}  # fmt: skip


async def test_an_hs100_has_no_meter_to_ask(fake: FakeKasa) -> None:
    fake.state.meter = False
    answer = await ask(fake, {"system": {"get_sysinfo": {}}, "emeter": {"get_realtime": {}}})
    assert answer["emeter"] == {"err_code": -1, "err_msg": "module not support"}
    assert answer["system"]["get_sysinfo"]["feature"] == "TIM"  # type: ignore[index]
