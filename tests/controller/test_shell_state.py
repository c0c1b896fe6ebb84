"""What the controller publishes on its own state topic."""

from __future__ import annotations

from pathlib import Path

from support.broker import Broker

from .conftest import STATE, controller_rig

HEARTBEAT = 10.0  # s, the bridges' default


async def test_an_unchanged_state_is_sent_again_every_heartbeat(
    own_broker: Broker, tmp_path: Path
) -> None:
    """A retained `ts` that keeps moving tells a reader the controller is alive."""
    async with controller_rig(own_broker, tmp_path, heartbeat=HEARTBEAT) as rig:
        await rig.house(600, hold=False)
        mark = rig.obs.mark()
        first = [m for m in rig.obs.messages[:mark] if m.topic == STATE][-1]
        rig.clock.advance(HEARTBEAT)
        again = await rig.obs.wait_for(STATE, after=mark)
        assert again.json["ts"] > first.json["ts"]
        assert {**again.json, "ts": None} == {**first.json, "ts": None}
