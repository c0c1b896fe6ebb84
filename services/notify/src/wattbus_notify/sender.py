"""The one place that sends: each target its own apprise object, so a failure names the
target it was (with apprise's privacy form of the URL: no password or token in a log)."""

from __future__ import annotations

from dataclasses import dataclass

import apprise

SEND_TIMEOUT = 30.0  # s one target may take (an SMTP server's greeting, a slow webhook)


@dataclass(frozen=True)
class Target:
    shown: str  # the URL with its secrets masked
    apprise: apprise.Apprise


def targets(urls: tuple[str, ...]) -> list[Target]:
    """The settings have checked that apprise reads every URL."""
    found = []
    for url in urls:
        a = apprise.Apprise()
        a.add(url)
        shown = a[0].url(privacy=True)  # type: ignore[no-untyped-call]  # apprise leaves it untyped
        found.append(Target(str(shown), a))
    return found


async def send(targets: list[Target], title: str, body: str) -> list[str]:
    """Send to every target; the masked URLs of those that did not take it."""
    failed = []
    for t in targets:
        result = await t.apprise.async_notify(body=body, title=title, timeout=SEND_TIMEOUT)
        if not result:
            failed.append(t.shown)
    return failed
