"""Notifications during a flapping meter: sent versus held back.

A grid meter drops off and comes back every `--period` s for `--hours` hours (a loose cable, a
Wi-Fi edge). Each flap is a `device_offline` and a `device_back` notice; the real limiter of
the notify service (`wattbus_notify.limits`, default settings: 15 minutes per kind, 20 an
hour) decides on each what goes out. A ticker of 1 s plays the service's wake-ups for the
digests. Pure computation: no broker, no apprise; `tests/notify/test_service.py` runs the same
limiter live, on a real broker with a real receiver.

    uv run python bench/notify_flapping.py [--period 5] [--hours 1]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from wattbus_notify.kinds import Notice, from_availability
from wattbus_notify.limits import Limiter
from wattbus_notify.settings import NotifySettings

START = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def run(period: float, hours: float) -> tuple[int, int, int, int]:
    """(notices, sent, digests, held back)."""
    limiter = Limiter(NotifySettings.only(urls="json://127.0.0.1/x", home="Home").rules)
    notices = digests = 0
    was = "online"
    step = timedelta(seconds=1)
    next_flap = START
    now = START
    while now < START + timedelta(hours=hours):
        if now >= next_flap:
            value = "offline" if was == "online" else "online"
            notice: Notice | None = from_availability("grid-meter", was, value)
            was = value
            next_flap += timedelta(seconds=period / 2)
            if notice is not None:
                notices += 1
                limiter.offer(notice, now)
        if limiter.due(now) is not None:
            digests += 1
        now += step
    return notices, limiter.sent, digests, limiter.held_back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", type=float, default=5.0, help="s per offline+online flap")
    parser.add_argument("--hours", type=float, default=1.0)
    args = parser.parse_args()
    notices, sent, digests, held = run(args.period, args.hours)
    print(f"flapping meter: offline and back every {args.period:g} s for {args.hours:g} h")
    print(f"{'notices':>10} {'sent':>6} {'of them digests':>16} {'held back':>10}")
    print(f"{notices:>10} {sent:>6} {digests:>16} {held:>10}")
    print(f"messages a person got: {sent} instead of {notices}")


if __name__ == "__main__":
    main()
