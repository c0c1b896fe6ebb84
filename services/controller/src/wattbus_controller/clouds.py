"""Cloud detection from the PV signal alone: passing clouds swing the array's output by a large
share of its peak within minutes, which a clear sky's slow arc never does. The swing over a
rolling window, against the array's peak power, says cloudy; it must fall well below the mark
again, over at least half a window, to say clear, so a broken sky does not flip the verdict
each minute.

While it is cloudy the tracking aims lower, by a share of the window's swing: a shadow then
costs a smaller step down, and less of it is drawn from the grid before the current follows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

WINDOW = 600.0  # s of PV readings judged together
SAMPLE = 10.0  # s between the readings kept: the window holds at most 60
CLOUDY = 0.25  # a swing over a quarter of the peak in the window is a cloud
CLEAR = 0.10  # and it must be under a tenth to be clear again
CUT = 0.25  # of the swing, in W, taken off the surplus aimed at while cloudy


class Sample(BaseModel):
    model_config = ConfigDict(frozen=True)

    ts: datetime
    pv: float  # W produced


class Sky(BaseModel):
    """The readings of the window and the verdict; persisted with the controller."""

    model_config = ConfigDict(frozen=True)

    samples: tuple[Sample, ...] = ()
    cloudy: bool = False

    def swing(self, peak: float) -> float:
        """The window's PV range as a share of the array's peak."""
        if not self.samples or peak <= 0:
            return 0.0
        values = [s.pv for s in self.samples]
        return (max(values) - min(values)) / peak

    def cut(self, peak: float) -> float:
        """W to aim below the surplus: a share of the swing while cloudy, else none."""
        return CUT * self.swing(peak) * peak if self.cloudy else 0.0


def observe(sky: Sky, pv: float | None, peak: float, now: datetime) -> Sky:
    """The sky after a reading at `now`. Without a PV reading (none on the bus, or stale) the
    window empties as it ages, and an empty window is clear: no signal, no cloud."""
    cutoff = now - timedelta(seconds=WINDOW)
    kept = tuple(s for s in sky.samples if s.ts > cutoff)
    if pv is not None and (not kept or (now - kept[-1].ts).total_seconds() >= SAMPLE):
        kept += (Sample(ts=now, pv=pv),)
    if peak <= 0 or not kept:
        return Sky(samples=kept)
    swing = Sky(samples=kept).swing(peak)
    if not sky.cloudy:
        return Sky(samples=kept, cloudy=swing > CLOUDY)
    seen = (kept[-1].ts - kept[0].ts).total_seconds()
    return Sky(samples=kept, cloudy=swing >= CLEAR or seen < WINDOW / 2)
