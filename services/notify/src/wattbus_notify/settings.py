"""Notification settings (env prefix `WATTBUS_NOTIFY_`).

The targets are apprise URLs, which carry their secrets (an SMTP password, a bot token), so
they are one secret: `WATTBUS_NOTIFY_URLS`, or a file named by `WATTBUS_NOTIFY_URLS_FILE`,
one URL per line or separated by spaces (a URL's own commas list its recipients).
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import apprise
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from wattbus.settings import DeviceId, ServiceSettings, field_error

from wattbus_notify.kinds import Kind
from wattbus_notify.limits import Rules
from wattbus_notify.quiet import QuietHours

INTERVAL = 900.0  # s between two messages of one kind: the old tool's 15 minutes
PER_HOUR = 20  # messages at most in any hour, digests included
QUIET = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])")
INTERVAL_ITEM = re.compile(r"([a-z_]+)=([0-9]+(?:\.[0-9]+)?)")
MAX_INTERVAL = 86_400.0  # s: a day; a kind told less often than that is better switched off


class NotifySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WATTBUS_NOTIFY_")

    id: DeviceId = "notify"
    urls: SecretStr = Field(description="apprise URLs, one per target")
    home: str = Field("Home", min_length=1, max_length=64, description="named in every line")
    off: str = Field("", description="kinds not to send, comma-separated")
    interval: float = Field(INTERVAL, ge=0, le=MAX_INTERVAL, allow_inf_nan=False)
    intervals: str = Field("", description="per kind, kind=seconds, comma-separated")
    per_hour: int = Field(PER_HOUR, ge=1, le=3600)
    quiet: str = Field("", description="HH:MM-HH:MM local time in which nothing is sent")
    timezone: str = Field("UTC", description="the zone quiet hours are in (Europe/London)")

    @model_validator(mode="after")
    def _valid(self) -> Self:
        """Every check here, each naming its own variable, so `config check` catches them."""
        _ = self.targets, self.rules  # each raises on what it cannot read
        return self

    @property
    def targets(self) -> tuple[str, ...]:
        urls = tuple(self.urls.get_secret_value().split())
        if not urls:
            raise field_error(type(self).__name__, "urls", "names no target", kind="missing")
        for i, url in enumerate(urls, 1):
            if apprise.Apprise.instantiate(url) is None:
                scheme = url.partition("://")[0] if "://" in url else "(no scheme)"
                raise field_error(
                    type(self).__name__,
                    "urls",
                    f"target {i} ({scheme}://...) is not a URL apprise can send to",
                )
        return urls

    @property
    def rules(self) -> Rules:
        model = type(self).__name__
        off = set(_split(self.off))
        if unknown := off - set(Kind):
            raise field_error(model, "off", f"names no kind: {', '.join(sorted(unknown))}")
        intervals = dict.fromkeys(Kind, timedelta(seconds=self.interval))
        for item in _split(self.intervals):
            m = INTERVAL_ITEM.fullmatch(item)
            if m is None or m[1] not in set(Kind) or float(m[2]) > MAX_INTERVAL:
                raise field_error(
                    model,
                    "intervals",
                    f"{item!r} should be kind=seconds (0 to {MAX_INTERVAL:g}), a kind of "
                    + ", ".join(Kind),
                )
            intervals[Kind(m[1])] = timedelta(seconds=float(m[2]))
        return Rules(
            home=self.home,
            intervals=intervals,
            enabled=frozenset(Kind) - {Kind(k) for k in off},
            per_hour=self.per_hour,
            quiet=self._quiet_hours(),
        )

    def _quiet_hours(self) -> QuietHours | None:
        model = type(self).__name__
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise field_error(model, "timezone", "is not a time zone (Europe/London)") from err
        if not self.quiet:
            return None
        m = QUIET.fullmatch(self.quiet.replace(" ", ""))
        if m is None or m.group(1, 2) == m.group(3, 4):
            raise field_error(model, "quiet", "should be HH:MM-HH:MM, two different times")
        return QuietHours(time(int(m[1]), int(m[2])), time(int(m[3]), int(m[4])), tz)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]
