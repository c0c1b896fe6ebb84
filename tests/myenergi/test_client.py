"""The client through pymyenergi against the fake cloud over real HTTP: digest auth, the
director's choice of server, and each failure as this package's own error."""

from __future__ import annotations

import pytest
from wattbus_myenergi.client import Zappi
from wattbus_myenergi.exceptions import (
    InvalidAuthError,
    ServerConnectionError,
    ServerResponseError,
)
from wattbus_myenergi.models import ZappiMode
from wattbus_myenergi.transport import LoopbackTransport
from wattbus_simulator.fake_myenergi import (
    DIRECTOR,
    ECO,
    FakeMyenergi,
    ZappiState,
    start_fake_myenergi,
)

from .conftest import client


async def test_digest_auth_answers_the_fakes_challenge(fake: FakeMyenergi, zappi: Zappi) -> None:
    status = await zappi.status()
    assert status.serial == fake.state.serial
    first, second, *_ = fake.requests
    assert (first.path, first.authorized) == ("/cgi-jstatus-E", False)  # the challenge
    assert (second.path, second.authorized) == ("/cgi-jstatus-E", True)
    assert all(r.authorized for r in fake.requests[1:])


async def test_the_director_is_asked_first_and_its_server_is_used(
    fake: FakeMyenergi, zappi: Zappi
) -> None:
    await zappi.status()
    await zappi.status()
    assert fake.hosts("/cgi-jstatus-E") == [DIRECTOR]
    assert fake.hosts("/cgi-jstatus-Z") == ["s18.myenergi.net"] * 2
    assert zappi.server == "https://s18.myenergi.net"


async def test_a_hub_that_moves_is_followed(fake: FakeMyenergi, zappi: Zappi) -> None:
    await zappi.status()
    fake.state.asn = "s19.myenergi.net"  # the answer still comes from s18, naming s19
    await zappi.status()
    await zappi.status()
    assert fake.hosts("/cgi-jstatus-Z") == ["s18.myenergi.net", "s18.myenergi.net",
                                            "s19.myenergi.net"]  # fmt: skip


async def test_the_hubs_only_zappi_is_found(fake: FakeMyenergi, zappi: Zappi) -> None:
    await zappi.status()
    assert zappi.serial == fake.state.serial
    assert fake.hosts("/cgi-jstatus-*") == ["s18.myenergi.net"]


async def test_a_serial_given_is_asked_for_directly(fake: FakeMyenergi) -> None:
    async with client(fake, serial=fake.state.serial) as zappi:
        await zappi.status()
    assert fake.hosts("/cgi-jstatus-*") == []


async def test_a_serial_the_hub_does_not_have_is_a_response_error(fake: FakeMyenergi) -> None:
    async with client(fake, serial=99) as zappi:
        with pytest.raises(ServerResponseError, match="not the documented answer"):
            await zappi.status()


async def test_a_wrong_key_is_an_auth_error(fake: FakeMyenergi) -> None:
    async with client(fake, key="not-the-key") as zappi:
        with pytest.raises(InvalidAuthError, match="no hub 21509692 with this API key"):
            await zappi.status()
    assert not any(r.authorized for r in fake.requests)


async def test_a_server_error_is_a_response_error_with_its_status(
    fake: FakeMyenergi, zappi: Zappi
) -> None:
    await zappi.status()
    fake.faults.status_500 = True
    with pytest.raises(ServerResponseError) as caught:
        await zappi.status()
    assert caught.value.status == 500


async def test_servers_that_do_not_answer_are_a_connection_error(state: ZappiState) -> None:
    fake = await start_fake_myenergi(state)
    port = fake.port
    await fake.close()
    async with Zappi(state.hub_serial, state.api_key, transport=LoopbackTransport(port)) as z:
        with pytest.raises(ServerConnectionError):
            await z.status()


async def test_mode_and_boost_calls_change_the_zappi(fake: FakeMyenergi, zappi: Zappi) -> None:
    fake.state.plug()
    await zappi.status()
    await zappi.set_mode(ZappiMode.ECO)
    assert await zappi.start_boost(7)
    status = await zappi.status()
    assert (status.mode, status.boosting, status.boost_kwh, status.plug) == (
        ZappiMode.ECO, True, 7, "C2")  # fmt: skip
    await zappi.stop_boost()
    assert not (await zappi.status()).boosting
    assert fake.commands == [
        f"/cgi-zappi-mode-Z{fake.state.serial}-{ECO}-0-0-0000",
        f"/cgi-zappi-mode-Z{fake.state.serial}-0-10-7-0000",
        f"/cgi-zappi-mode-Z{fake.state.serial}-0-2-0-0000",
    ]
