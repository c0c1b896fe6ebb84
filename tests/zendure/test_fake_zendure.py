"""The fake itself answers as zenSDK documents the device, seen with a plain HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from wattbus_simulator.fake_zendure import FakeZendure, ZendureState


@pytest.fixture
async def http(fake: FakeZendure) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url) as client:
        yield client


async def post(http: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await http.post("/properties/write", json=body)


async def test_report_shape_and_message_id(http: httpx.AsyncClient, state: ZendureState) -> None:
    first = (await http.get("/properties/report")).json()
    second = (await http.get("/properties/report")).json()
    assert set(first) == {
        "timestamp",
        "messageId",
        "sn",
        "version",
        "product",
        "properties",
        "packData",
    }
    assert first["version"] == 2
    assert first["sn"] == state.sn
    assert second["messageId"] == first["messageId"] + 1
    assert first["properties"]["chargeMaxLimit"] == 2400
    assert first["properties"]["inverseMaxPower"] == 2400


async def test_write_without_smart_mode_1_goes_to_flash(
    http: httpx.AsyncClient, state: ZendureState
) -> None:
    assert (
        await post(http, {"sn": state.sn, "properties": {"outputLimit": 100}})
    ).status_code == 200
    assert state.flash_writes == 1
    assert state.properties["outputLimit"] == 100
    body = {"sn": state.sn, "properties": {"smartMode": 1, "outputLimit": 200}}
    assert (await post(http, body)).status_code == 200
    assert state.flash_writes == 1


async def test_invalid_writes_are_400_and_change_nothing(
    http: httpx.AsyncClient, state: ZendureState
) -> None:
    before = dict(state.properties)
    bodies: list[Any] = [
        {"properties": {"smartMode": 1, "outputLimit": 100}},  # no sn
        {"sn": "OTHER", "properties": {"smartMode": 1, "outputLimit": 100}},
        {"sn": state.sn, "properties": {"smartMode": 1, "electricLevel": 50}},  # read-only
        {"sn": state.sn, "properties": {"smartMode": 1, "noSuchThing": 1}},
        {"sn": state.sn, "properties": {"smartMode": 1, "socSet": 600}},
        {"sn": state.sn, "properties": {"smartMode": 1, "minSoc": 1001}},
        {"sn": state.sn, "properties": {"smartMode": 1, "inputLimit": 2401}},
        {"sn": state.sn, "properties": {"smartMode": 1, "acMode": 3}},
        {"sn": state.sn, "properties": {"smartMode": 2}},
        {"sn": state.sn, "properties": {"outputLimit": 100, "acMode": 0}},  # all or nothing
    ]
    for body in bodies:
        assert (await post(http, body)).status_code == 400, body
    assert state.properties == before
    assert state.flash_writes == 0
    assert len(state.writes) == len(bodies)


async def test_firmware_refusing_min_soc_above_50_answers_200(
    http: httpx.AsyncClient, state: ZendureState
) -> None:
    state.min_soc_above_50 = "ignored"
    body = {"sn": state.sn, "properties": {"smartMode": 1, "minSoc": 1000}}
    assert (await post(http, body)).status_code == 200
    assert state.properties["minSoc"] == 150
    body = {"sn": state.sn, "properties": {"smartMode": 1, "minSoc": 500}}
    assert (await post(http, body)).status_code == 200
    assert state.properties["minSoc"] == 500


async def test_firmware_refusing_min_soc_above_50_answers_400_and_applies_nothing(
    http: httpx.AsyncClient, state: ZendureState
) -> None:
    state.min_soc_above_50 = "refused"
    before = state.writable()
    body = {"sn": state.sn, "properties": {"smartMode": 1, "minSoc": 600, "outputLimit": 500}}
    answer = await post(http, body)
    assert answer.status_code == 400
    assert "minSoc 600" in answer.text
    assert state.writable() == before
    body = {"sn": state.sn, "properties": {"smartMode": 1, "minSoc": 500}}
    assert (await post(http, body)).status_code == 200
    assert state.properties["minSoc"] == 500


async def test_writable_lists_exactly_the_writable_properties(state: ZendureState) -> None:
    assert set(state.writable()) == {
        "acMode",
        "inputLimit",
        "outputLimit",
        "socSet",
        "minSoc",
        "gridStandard",
        "gridReverse",
        "inverseMaxPower",
        "smartMode",
    }
