"""What the bridge itself adds to the charger, on `wattbus/<id>/feed`.

Not in `ChargerState`: that model is shared, and every reader of `wattbus/<id>/state` (the
controller's EV guard) refuses fields it does not know. So the feed has a state of its own,
published like any state: on change and at the heartbeat."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field
from wattbus.models import State

from wattbus_smartevse.feed import FeedMemory, FeedOptions
from wattbus_smartevse.passthrough import Passthrough


class FeedState(State):
    feed_active: bool = Field(description="a reading went to Set/MainsMeter within max age")
    last_feed: datetime | None = Field(None, description="when the last one went")
    meter: str = Field(description="the wattbus id of the meter fed from")
    split: bool | None = Field(None, description="the last feed split the total power")
    battery: str | None = Field(None, description="the battery passed through; None: none")
    passthrough: Passthrough
    reserve: float | None = Field(None, description="A, with passthrough reserve")
    passthrough_current: float | None = Field(
        None, description="A, > 0 charging: the value sent now; None: none is sent"
    )
    max_sum_mains: float | None = Field(None, description="A, the charger's limit; 0: off")


def feed_active(memory: FeedMemory, now: datetime, options: FeedOptions) -> bool:
    """A meter fast enough to feed brings a reading at least every `max_age`: a feed with
    no message for that long has stopped."""
    return memory.sent_at is not None and (now - memory.sent_at).total_seconds() < options.max_age


def active_until(memory: FeedMemory, options: FeedOptions) -> datetime | None:
    """When `feed_active` turns false unless another reading is fed."""
    if memory.sent_at is None:
        return None
    return memory.sent_at + timedelta(seconds=options.max_age)
