"""The fake Tapo's KLAP, checked against python-kasa's own, and its answers on the wire: a
login it refuses, requests from no session, and what no P110 has."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from kasa import AuthenticationError, Credentials, DeviceConfig
from kasa.deviceconfig import DeviceConnectionParameters, DeviceEncryptionType, DeviceFamily
from kasa.transports.klaptransport import KlapEncryptionSession, KlapTransportV2
from wattbus_simulator.fake_tapo import FakeTapo
from wattbus_simulator.klap import Session, auth_hash, client_proof, plug_proof

OWNER = ("owner@example.com", "tapo-secret")  # TapoPlugState's account
KLAP = DeviceConnectionParameters(
    DeviceFamily.SmartTapoPlug, DeviceEncryptionType.Klap, login_version=2
)


def test_the_hashes_and_the_seal_are_python_kasas() -> None:
    client_seed, plug_seed = secrets.token_bytes(16), secrets.token_bytes(16)
    auth = auth_hash(*OWNER)
    assert auth == KlapTransportV2.generate_auth_hash(Credentials(*OWNER))
    theirs = (client_seed, plug_seed, auth)
    assert plug_proof(*theirs) == KlapTransportV2.handshake1_seed_auth_hash(*theirs)
    assert client_proof(*theirs) == KlapTransportV2.handshake2_seed_auth_hash(*theirs)
    client, plug = KlapEncryptionSession(*theirs), Session(*theirs)
    sealed, seq = client.encrypt('{"method": "get_device_info"}')
    assert plug.open(seq, sealed) == b'{"method": "get_device_info"}'
    assert client.decrypt(plug.seal(seq, b'{"error_code": 0}')) == '{"error_code": 0}'


def transport(fake: FakeTapo, username: str, password: str) -> KlapTransportV2:
    login = Credentials(username, password)
    config = DeviceConfig(host="127.0.0.1", port_override=fake.port, timeout=5,
                          credentials=login, connection_type=KLAP)  # fmt: skip
    return KlapTransportV2(config=config)


async def test_python_kasa_logs_in_and_asks(tapo: FakeTapo) -> None:
    klap = transport(tapo, *OWNER)
    try:  # python-kasa types send's answer as a generator, and returns the dict
        answer: Any = await klap.send(json.dumps({"method": "get_device_info"}))
    finally:
        await klap.close()
    assert answer["error_code"] == 0
    assert answer["result"]["model"] == "P110" and answer["result"]["device_on"] is True
    assert (tapo.faults.handshakes, tapo.faults.refused_logins) == (1, 0)


WRONG = [("owner@example.com", "wrong"), ("Owner@example.com", "tapo-secret")]  # case counts


@pytest.mark.parametrize("login", WRONG)
async def test_another_login_fails_the_handshake(tapo: FakeTapo, login: tuple[str, str]) -> None:
    klap = transport(tapo, *login)
    try:
        with pytest.raises(AuthenticationError, match="e-mail and password"):
            await klap.send(json.dumps({"method": "get_device_info"}))
    finally:
        await klap.close()
    assert tapo.faults.methods == []


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        yield client


async def handshake(
    http: aiohttp.ClientSession, fake: FakeTapo, password: str = OWNER[1]
) -> tuple[int, Session]:
    """Both handshakes by hand; the status of the second, and the session they made."""
    client_seed = secrets.token_bytes(16)
    async with http.post(f"{fake.url}/app/handshake1", data=client_seed) as first:
        body = await first.read()
    plug_seed, proof = body[:16], body[16:]
    session = Session(client_seed, plug_seed, auth_hash(OWNER[0], password))
    assert first.status == 200 and len(proof) == 32
    assert first.cookies["TP_SESSIONID"].value in fake.sessions
    assert first.headers["Set-Cookie"].endswith(";TIMEOUT=86400")  # the session's life, in s
    proven = client_proof(client_seed, plug_seed, session.auth)
    async with http.post(f"{fake.url}/app/handshake2", data=proven) as second:
        return second.status, session


async def ask(http: aiohttp.ClientSession, fake: FakeTapo, session: Session, request: Any) -> Any:
    seq = 7
    body = session.seal(seq, json.dumps(request).encode())
    async with http.post(f"{fake.url}/app/request", params={"seq": seq}, data=body) as answer:
        assert answer.status == 200
        return json.loads(session.open(seq, await answer.read()))


async def test_a_wrong_proof_in_handshake2_is_refused(
    tapo: FakeTapo, http: aiohttp.ClientSession
) -> None:
    status, session = await handshake(http, tapo, password="wrong")
    assert status == 403 and tapo.faults.refused_logins == 1
    body = session.seal(1, b'{"method": "get_device_info"}')
    async with http.post(f"{tapo.url}/app/request", params={"seq": 1}, data=body) as answer:
        assert answer.status == 403  # no confirmed session: nothing answered
    assert tapo.faults.methods == []


async def test_a_body_sealed_for_another_number_is_refused(
    tapo: FakeTapo, http: aiohttp.ClientSession
) -> None:
    status, session = await handshake(http, tapo)
    assert status == 200
    body = session.seal(1, b'{"method": "get_device_info"}')
    async with http.post(f"{tapo.url}/app/request", params={"seq": 2}, data=body) as answer:
        assert answer.status == 400
    tapo.forget_sessions()  # as a reboot does
    async with http.post(f"{tapo.url}/app/request", params={"seq": 1}, data=body) as answer:
        assert answer.status == 403
    assert tapo.faults.methods == []


async def test_a_method_the_plug_lacks_and_a_bad_parameter_are_error_codes(
    tapo: FakeTapo, http: aiohttp.ClientSession
) -> None:
    _, session = await handshake(http, tapo)
    unknown = await ask(http, tapo, session, {"method": "set_brightness", "params": {}})
    requests = [{"method": "set_device_info", "params": {"device_on": on}}
                for on in (1, "false", None)]  # fmt: skip
    requests.append({"method": "set_device_info", "params": {"device_on": False, "nickname": ""}})
    multi = await ask(http, tapo, session, {"method": "multipleRequest",
                                            "params": {"requests": requests}})  # fmt: skip
    assert unknown == {"error_code": -1002} and tapo.faults.unknown == ["set_brightness"]
    responses = multi["result"]["responses"]
    assert [r["error_code"] for r in responses] == [-1008] * 4
    assert tapo.state.relay and tapo.faults.writes == []


async def test_the_load_draws_only_while_the_relay_is_on(
    tapo: FakeTapo, http: aiohttp.ClientSession
) -> None:
    _, session = await handshake(http, tapo)
    off = await ask(http, tapo, session, {"method": "set_device_info",
                                          "params": {"device_on": False}})  # fmt: skip
    dark = await ask(http, tapo, session, {"method": "get_emeter_data"})
    assert off == {"error_code": 0}  # a set_ method answers no result
    assert dark["result"] == {"voltage_mv": 231_400, "current_ma": 0, "power_mw": 0,
                              "energy_wh": 41_870}  # fmt: skip
    assert tapo.faults.writes == [False] and not tapo.state.relay


async def test_a_p100_lists_no_meter_and_has_none_to_ask(
    tapo: FakeTapo, http: aiohttp.ClientSession
) -> None:
    tapo.state.meter, tapo.state.model = False, "P100"
    _, session = await handshake(http, tapo)
    components = await ask(http, tapo, session, {"method": "component_nego"})
    usage = await ask(http, tapo, session, {"method": "get_energy_usage"})
    ids = [c["id"] for c in components["result"]["component_list"]]
    assert "device" in ids and "energy_monitoring" not in ids
    assert usage == {"error_code": -1002}
