"""Quiet hours: a daily window of local time in which nothing is sent, only counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    """From `start` to `end`, local time in `tz`; a window past midnight (22:00-07:00) too."""

    start: time
    end: time
    tz: ZoneInfo

    def until(self, now: datetime) -> datetime | None:
        """When the quiet window `now` is in ends (UTC-aware), or None outside one."""
        local = now.astimezone(self.tz)
        t = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            inside = self.start <= t < self.end
            ends_on = local.date()
        else:
            inside = t >= self.start or t < self.end
            ends_on = local.date() + timedelta(days=1) if t >= self.start else local.date()
        if not inside:
            return None
        # a wall-clock time resolved in the zone: a DST change moves it, as a person expects
        return datetime.combine(ends_on, self.end, self.tz).astimezone(now.tzinfo)
