"""The bridge through a real Mosquitto with the ACL, against the fake API, on a clock the
tests move: its state and notices, a window that starts between polls, refused credentials,
throttling, and the `refresh` command."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.broker import Broker
from support.clock import FakeClock
from support.mqtt import WAIT, Msg, Observer, bus_settings, observer, running
from wattbus.bus import Bus
from wattbus.models import TariffState
from wattbus_kraken.service import KrakenBridge
from wattbus_simulator.fake_kraken import FakeDispatch, FakeKraken

from .conftest import account, settings

STATE = "wattbus/kraken/state"
AVAILABILITY = "wattbus/kraken/availability"
EVENTS = "wattbus/kraken/event"
SET = "wattbus/kraken/set"
DISCOVERY = "homeassistant/device/kraken/config"
START = datetime(2026, 6, 10, 9, 27, tzinfo=UTC)  # the next poll after the first is 09:31


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


@dataclass
class Rig:
    bridge: KrakenBridge
    fake: FakeKraken
    clock: FakeClock
    obs: Observer

    def at(self, minutes: float) -> datetime:
        return at(minutes)

    def plan(self, *spans: tuple[float, float]) -> None:
        account(self.fake).planned = [FakeDispatch(at(a), at(b)) for a, b in spans]

    async def state(self, pred: Callable[[TariffState], bool], after: int = 0) -> TariffState:
        msg = await self.obs.wait_for(
            STATE, lambda m: pred(TariffState.model_validate_json(m.payload)), after=after
        )
        return TariffState.model_validate_json(msg.payload)

    async def event(self, pred: Callable[[dict[str, Any]], bool], after: int = 0) -> Msg:
        return await self.obs.wait_for(EVENTS, lambda m: pred(m.json), after=after)

    def events(self, code: str) -> list[dict[str, Any]]:
        return [m.json for m in self.obs.messages if m.topic == EVENTS
                and m.json.get("code") == code]  # fmt: skip

    async def command(self, payload: dict[str, Any] | bytes, field: str | None = None) -> Msg:
        mark = self.obs.mark()
        topic = SET if field is None else f"{SET}/{field}"
        await self.obs.publish(topic, payload)
        return await self.event(lambda e: e.get("topic") == topic, after=mark)


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(
    own_broker: Broker, fake: FakeKraken, clock: FakeClock, tmp_path: Path
) -> AsyncIterator[MakeRig]:
    """`await make_rig(**settings)`: the bridge running from START, its first poll made."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(
            *, plan: tuple[tuple[float, float], ...] = (), wait_first: bool = True, **values: Any
        ) -> Rig:
            clock.current = START
            account(fake).planned = [FakeDispatch(at(a), at(b)) for a, b in plan]
            obs = await stack.enter_async_context(observer(own_broker))
            bus = Bus(bus_settings(own_broker, "kraken", heartbeat=3600.0), "kraken")
            bridge = KrakenBridge(
                bus, settings(fake, tmp_path / "state", **values), clock, jitter=lambda: 0.0
            )
            stack.push_async_callback(bridge.close)
            await stack.enter_async_context(running(bus.run()))
            await stack.enter_async_context(running(bridge.run()))
            rig = Rig(bridge, fake, clock, obs)
            if wait_first:
                await obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
            return rig

        yield make


async def test_the_planned_windows_are_published_with_a_notice_each(make_rig: MakeRig) -> None:
    rig = await make_rig(plan=((40, 50), (300, 330)))  # 10:07-10:17 and 14:27-14:57
    first = await rig.state(lambda s: s.source is not None)
    assert first.source == "planned"  # the device was not known yet
    # the next poll, at 09:31, reads flex with the device learnt
    rig.clock.advance(4 * 60)
    state = await rig.state(lambda s: s.source == "flex")
    assert [(w.start, w.end) for w in state.windows] == [
        (rig.at(33), rig.at(63)), (rig.at(273), rig.at(333))]  # fmt: skip
    assert state.active is False and state.current is None
    assert state.fetched == rig.at(4)
    assert state.device_state == "SMART_CONTROL_CAPABLE"
    planned = rig.events("dispatch_planned")
    assert len(planned) == 2 and planned[0]["data"]["sequence"] == 0
    config = (await rig.obs.wait_for(DISCOVERY)).json
    assert {"active", "current_end", "next_start", "planned", "device_state"} <= set(config["cmps"])


async def test_active_flips_at_the_window_start_without_calling_the_api(
    make_rig: MakeRig,
) -> None:
    rig = await make_rig(plan=((8, 20),))  # 09:35-09:47: the slot 09:30-10:00
    await rig.state(lambda s: len(s.windows) == 1)
    calls = rig.fake.count()
    mark = rig.obs.mark()
    rig.clock.advance(3 * 60)  # 09:30, before the next poll at 09:31
    state = await rig.state(lambda s: s.active, after=mark)
    assert state.ts == rig.at(3)
    assert state.current is not None and state.current.end == rig.at(33)
    assert rig.fake.count() == calls
    mark = rig.obs.mark()
    rig.clock.advance(30 * 60)  # 10:00: polls on the way, and the window is over
    await rig.state(lambda s: not s.active and s.ts == rig.at(33), after=mark)
    assert rig.events("dispatch_completed")


async def test_a_vanished_window_is_withdrawn(make_rig: MakeRig) -> None:
    rig = await make_rig(plan=((60, 90),))
    await rig.state(lambda s: len(s.windows) == 1)
    rig.plan()
    mark = rig.obs.mark()
    rig.clock.advance(4 * 60)
    await rig.state(lambda s: s.windows == [] and s.ts == rig.at(4), after=mark)
    (withdrawn,) = rig.events("dispatch_withdrawn")
    assert withdrawn["kind"] == "notice"
    assert withdrawn["data"]["window"] == rig.events("dispatch_planned")[0]["data"]["window"]


async def test_refused_credentials_say_so_once_go_offline_and_keep_running(
    make_rig: MakeRig, fake: FakeKraken
) -> None:
    rig = await make_rig(wait_first=False, api_key="sk_live_wrong")
    error = await rig.event(lambda e: e.get("code") == "auth_failed")
    assert error.json["kind"] == "error"
    assert error.json["data"]["kraken_code"] == "KT-CT-1139"
    await rig.obs.wait_for(AVAILABILITY, lambda m: m.text == "offline" and not m.retain)
    assert rig.bridge.next_poll >= START + timedelta(minutes=24)  # slowly
    # still serving: a refresh a minute later is tried, fails, and is answered
    rig.clock.advance(61)
    answer = await rig.command({"refresh": True, "id": "r1"})
    assert answer.json["kind"] == "error" and answer.json["id"] == "r1"
    assert len(rig.events("auth_failed")) == 1  # said once, not at every retry
    # the key fixed on the supplier's side: the next refresh brings it back
    fake.api_keys["sk_live_wrong"] = fake.api_keys[next(iter(fake.api_keys))]
    rig.clock.advance(3 * 60)  # past 09:30's quiet minutes
    answer = await rig.command({"refresh": True})
    assert answer.json["kind"] == "applied", answer.json
    await rig.obs.wait_for(AVAILABILITY, lambda m: m.text == "online")


async def test_throttling_backs_off_and_keeps_the_windows_online(make_rig: MakeRig) -> None:
    rig = await make_rig()
    rig.fake.faults.throttle = "429"
    logins = rig.fake.count("login")
    rig.clock.advance(4 * 60)  # the poll at 09:31
    error = await rig.event(lambda e: e.get("code") == "throttled")
    assert error.json["data"]["retry_at"] == (rig.at(4) + timedelta(minutes=6)).isoformat()
    assert [m.text for m in rig.obs.messages if m.topic == AVAILABILITY][-1] == "online"
    assert rig.fake.count("login") == logins  # the token was kept


async def test_refresh_polls_now_or_says_when_it_may(make_rig: MakeRig) -> None:
    rig = await make_rig()
    too_soon = await rig.command({"refresh": True, "id": 5})
    assert too_soon.json["kind"] == "rejected" and too_soon.json["id"] == 5
    assert too_soon.json["reason"] == "the rate limit allows the next poll at 09:28:00 UTC"
    calls = rig.fake.count()
    rig.clock.advance(60)
    done = await rig.command(b"true", "refresh")
    assert done.json["kind"] == "applied"
    assert done.json["reason"] == "polled: 0 windows planned"
    assert rig.fake.count() == calls + 1


@pytest.mark.parametrize(
    "payload",
    [{"refresh": 1}, {"refresh": False}, {"refresh": None}, {"poll": True}, b"not json", {}],
)
async def test_a_bad_command_is_rejected_and_nothing_is_called(
    make_rig: MakeRig, payload: dict[str, Any] | bytes
) -> None:
    rig = await make_rig()
    rig.clock.advance(60)
    calls = rig.fake.count()
    answer = await rig.command(payload)
    assert answer.json["kind"] == "rejected"
    assert rig.fake.count() == calls
    assert WAIT  # the observer waited for the answer, not a timer


async def test_a_restart_over_fresh_windows_stays_online_before_its_first_poll(
    own_broker: Broker, fake: FakeKraken, clock: FakeClock, tmp_path: Path
) -> None:
    """Restarted in the quiet minutes, the bridge may not call Kraken for a while; the
    windows it stored two minutes ago still hold, so it says `online` at once (a tariff
    `offline` ends the controller's dispatch hold). Over 35 minutes old, they do not."""
    clock.current = START
    account(fake).planned = [FakeDispatch(at(33), at(93))]

    @contextlib.asynccontextmanager
    async def bridge() -> AsyncIterator[None]:
        bus = Bus(bus_settings(own_broker, "kraken", heartbeat=3600.0), "kraken")
        kraken = KrakenBridge(bus, settings(fake, tmp_path / "state"), clock, jitter=lambda: 0.0)
        try:
            async with running(bus.run()), running(kraken.run()):
                yield
        finally:
            await kraken.close()

    async with observer(own_broker) as obs:
        async with bridge():
            await obs.wait_for(AVAILABILITY, lambda m: m.text == "online")
            mark = obs.mark()
        clock.advance(2.5 * 60)  # 09:29:30: no call before 09:31
        calls = fake.count()
        async with bridge():
            state = await obs.wait_for(STATE, lambda m: m.json["ts"] == "2026-06-10T09:29:30Z")
            said = [m.text for m in obs.messages[mark:] if m.topic == AVAILABILITY]
            assert said == ["offline", "online"]  # the stop, then the restart at once
            assert len(TariffState.model_validate_json(state.payload).windows) == 1
            assert fake.count() == calls
            mark = obs.mark()
        clock.advance(40 * 60)  # 10:09:30: the windows were read 42 minutes ago
        async with bridge():
            await obs.wait_for(AVAILABILITY, lambda m: m.text == "online", after=mark)
            said = [m.text for m in obs.messages[mark:] if m.topic == AVAILABILITY]
    assert said[:2] == ["offline", "offline"]  # the stop, and not trusted until read again
