"""The Shelly bridge's log as a user reads it (`docker compose logs shelly`): what happened,
not a line per HTTP request of a once-a-second poll."""

from __future__ import annotations

from collections.abc import Callable

from support.home import Home
from support.mqtt import Msg, observer


def power_is(watts: float) -> Callable[[Msg], bool]:
    return lambda m: bool(m.json["power"] == watts)


async def test_the_bridge_logs_no_line_per_http_request(home: Home) -> None:
    bridge = home.service("shelly")
    async with observer(home.broker) as seen:
        for watts in (1000.0, 2000.0, 3000.0):  # each one a new reading, so polls went by
            home.set_house_power(watts)
            await seen.wait_for("wattbus/grid-meter/state", power_is(watts))
    bridge.stop()
    log = bridge.log.read_text()
    assert "grid-meter reachable" in log  # the log itself is written, at INFO
    assert "HTTP Request" not in log, log
    assert "httpx" not in log and "httpcore" not in log, log
