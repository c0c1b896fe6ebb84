"""The fake answers like the device: field names, GET vs POST framing, errors and digest auth."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from wattbus_simulator.fake_shelly import FakeShelly, ShellyPhase, ShellyPro3EMState


@pytest.fixture
async def http(fake: FakeShelly) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url) as client:
        yield client


@pytest.fixture
async def http_auth(fake_auth: FakeShelly) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake_auth.url) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/rpc/EM.GetStatus?id=0", "em:0"),
        ("/rpc/EMData.GetStatus?id=0", "emdata:0"),
        ("/rpc/Shelly.GetDeviceInfo", "shelly"),
        ("/shelly", "shelly"),
    ],
)
async def test_answers_carry_the_device_field_names(
    http: httpx.AsyncClient, answers: dict[str, Any], path: str, key: str
) -> None:
    response = await http.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == set(answers[key])


async def test_get_answers_the_bare_result_and_post_frame_the_whole_frame(
    http: httpx.AsyncClient, fake: FakeShelly
) -> None:
    bare = (await http.get("/rpc/EM.GetStatus?id=0")).json()
    framed = await http.post(
        "/rpc", json={"id": 7, "src": "tests", "method": "EM.GetStatus", "params": {"id": 0}}
    )

    assert framed.status_code == 200
    assert framed.json() == {"id": 7, "src": fake.state.device_id, "dst": "tests", "result": bare}


async def test_post_to_the_method_takes_json_params_and_answers_bare(
    http: httpx.AsyncClient,
) -> None:
    bare = (await http.get("/rpc/EMData.GetStatus?id=0")).json()
    # evcc's form: the frame's keys go to /rpc/<Method>, where only `id` matters.
    posted = await http.post(
        "/rpc/EMData.GetStatus", json={"id": 0, "src": "evcc", "method": "EMData.GetStatus"}
    )

    assert posted.json() == bare


async def test_method_names_match_exactly(http: httpx.AsyncClient) -> None:
    assert (await http.get("/rpc/em.getstatus?id=0")).status_code == 404


async def test_an_unknown_method_is_404_no_handler(http: httpx.AsyncClient) -> None:
    got = await http.get("/rpc/Switch.GetStatus?id=0")
    framed = await http.post("/rpc", json={"id": 1, "method": "Switch.GetStatus"})

    assert got.status_code == 404
    assert got.json() == {"code": 404, "message": "No handler for Switch.GetStatus"}
    assert framed.status_code == 200
    assert framed.json()["error"] == {"code": 404, "message": "No handler for Switch.GetStatus"}


@pytest.mark.parametrize(
    ("path", "code"),
    [("/rpc/EM.GetStatus?id=1", -105), ("/rpc/EM.GetStatus", -103)],
)
async def test_a_bad_id_is_an_rpc_error_with_http_500(
    http: httpx.AsyncClient, path: str, code: int
) -> None:
    response = await http.get(path)

    assert response.status_code == 500
    assert response.json()["code"] == code


async def test_current_is_unsigned_and_derived_from_power(
    http: httpx.AsyncClient, state: ShellyPro3EMState
) -> None:
    em = (await http.get("/rpc/EM.GetStatus?id=0")).json()

    assert em["c_act_power"] == -1404.6
    assert em["c_current"] == round(1404.6 / (230.8 * 0.99), 3)
    assert em["c_aprt_power"] == round(1404.6 / 0.99, 1)
    assert em["n_current"] is None
    assert em["total_act_power"] == round(812.4 + 95.1 - 1404.6, 3)


def test_add_energy_counts_import_and_export_per_phase() -> None:
    state = ShellyPro3EMState(
        phases=[ShellyPhase(act_power=1000), ShellyPhase(), ShellyPhase(act_power=-600)]
    )

    state.add_energy(1800)

    assert state.phases[0].total_act_energy == pytest.approx(500)
    assert state.phases[0].total_act_ret_energy == 0
    assert state.phases[2].total_act_ret_energy == pytest.approx(300)
    assert state.phases[2].total_act_energy == 0


def test_a_pro_3em_has_three_phases() -> None:
    with pytest.raises(ValueError, match="3 phases"):
        ShellyPro3EMState(phases=[ShellyPhase()])


async def test_errors_appear_only_when_set(
    http: httpx.AsyncClient, state: ShellyPro3EMState
) -> None:
    assert "errors" not in (await http.get("/rpc/EM.GetStatus?id=0")).json()
    state.errors.append("no_load")
    assert (await http.get("/rpc/EM.GetStatus?id=0")).json()["errors"] == ["no_load"]


async def test_protected_calls_get_a_sha256_digest_challenge(
    http_auth: httpx.AsyncClient, fake_auth: FakeShelly
) -> None:
    response = await http_auth.get("/rpc/EM.GetStatus?id=0")
    framed = await http_auth.post("/rpc", json={"id": 1, "method": "EM.GetStatus"})

    assert response.status_code == 401
    assert framed.status_code == 401
    challenge = _challenge(response)
    assert challenge["realm"] == fake_auth.state.device_id
    assert challenge["algorithm"] == "SHA-256"
    assert challenge["qop"] == "auth"


@pytest.mark.parametrize(
    "request_",
    [
        ("GET", "/shelly", None),
        ("GET", "/rpc/Shelly.GetDeviceInfo", None),
        ("POST", "/rpc", {"id": 1, "method": "Shelly.GetDeviceInfo"}),
    ],
)
async def test_device_info_stays_open(
    http_auth: httpx.AsyncClient, request_: tuple[str, str, Any]
) -> None:
    method, path, body = request_

    response = await http_auth.request(method, path, json=body)

    assert response.status_code == 200
    info = response.json().get("result", response.json())
    assert info["auth_en"] is True


async def test_httpx_digest_auth_passes_with_the_password(
    fake_auth: FakeShelly, password: str
) -> None:
    auth = httpx.DigestAuth("admin", password)
    async with httpx.AsyncClient(base_url=fake_auth.url, auth=auth) as client:
        got = await client.get("/rpc/EM.GetStatus?id=0")
        framed = await client.post(
            "/rpc", json={"id": 1, "method": "EM.GetStatus", "params": {"id": 0}}
        )

    assert got.status_code == 200
    assert framed.json()["result"] == got.json()


@pytest.mark.parametrize(("user", "secret"), [("admin", "wrong"), ("root", "correct horse")])
async def test_httpx_digest_auth_fails_with_wrong_credentials(
    fake_auth: FakeShelly, user: str, secret: str
) -> None:
    async with httpx.AsyncClient(base_url=fake_auth.url, auth=httpx.DigestAuth(user, secret)) as c:
        assert (await c.get("/rpc/EM.GetStatus?id=0")).status_code == 401


@pytest.mark.parametrize(
    "tamper",
    ["uri", "response", "realm"],
)
async def test_a_digest_answer_for_something_else_is_refused(
    http_auth: httpx.AsyncClient, fake_auth: FakeShelly, password: str, tamper: str
) -> None:
    path = "/rpc/EM.GetStatus?id=0"
    challenge = _challenge(await http_auth.get(path))
    fields = _digest_answer("GET", path, challenge, password)
    honest = await http_auth.get(path, headers={"Authorization": _header(fields)})
    if tamper == "uri":  # a valid answer for another resource, replayed here
        fields = _digest_answer("GET", "/rpc/EMData.GetStatus?id=0", challenge, password)
        fields["uri"] = path
    elif tamper == "response":
        fields["response"] = "0" * 64
    else:
        fields = _digest_answer("GET", path, challenge | {"realm": "other"}, password)

    refused = await http_auth.get(path, headers={"Authorization": _header(fields)})

    assert honest.status_code == 200
    assert refused.status_code == 401


async def test_faults_misbehave_and_the_counters_count(
    http: httpx.AsyncClient, fake: FakeShelly
) -> None:
    fake.faults.malformed_json = True
    truncated = await http.get("/rpc/EM.GetStatus?id=0")
    fake.faults.malformed_json = False
    fake.faults.status_500 = True
    failed = await http.get("/rpc/EM.GetStatus?id=0")

    assert truncated.status_code == 200
    with pytest.raises(ValueError):
        truncated.json()
    assert failed.status_code == 500
    assert fake.requests == 2
    assert fake.calls["EM.GetStatus"] == 1


async def test_a_dropped_connection_gets_no_answer(
    http: httpx.AsyncClient, fake: FakeShelly
) -> None:
    fake.faults.drop_connection = True

    with pytest.raises(httpx.RemoteProtocolError):
        await http.get("/shelly")


def _challenge(response: httpx.Response) -> dict[str, str]:
    scheme, _, rest = response.headers["www-authenticate"].partition(" ")
    assert scheme == "Digest"
    pairs = (part.strip().split("=", 1) for part in rest.split(","))
    return {key: value.strip('"') for key, value in pairs}


def _sha256(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


def _digest_answer(
    method: str, uri: str, challenge: dict[str, str], password: str
) -> dict[str, str]:
    """An RFC 7616 answer written out by hand, independent of httpx."""
    realm, nonce, nc, cnonce = challenge["realm"], challenge["nonce"], "00000001", "0a4f113b"
    ha1 = _sha256("admin", realm, password)
    response = _sha256(ha1, nonce, nc, cnonce, "auth", _sha256(method, uri))
    return {
        "username": "admin",
        "realm": realm,
        "nonce": nonce,
        "uri": uri,
        "algorithm": "SHA-256",
        "qop": "auth",
        "nc": nc,
        "cnonce": cnonce,
        "response": response,
    }


def _header(fields: dict[str, str]) -> str:
    return "Digest " + ", ".join(f'{key}="{value}"' for key, value in fields.items())
