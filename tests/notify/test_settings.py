"""Settings: every target an apprise URL of a form apprise can send to (checked with no
network), and every bad value one line naming its variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from wattbus.settings import describe_error
from wattbus_notify.kinds import Kind
from wattbus_notify.sender import targets
from wattbus_notify.settings import NotifySettings

PUSHOVER = "pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi"
TELEGRAM = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-1001234567890/987654321"
MAILTOS = "mailtos://wattbus:s3cret@smtp.example.org:587?to=a@example.org,b@example.org"


def error_of(**values: object) -> str:
    with pytest.raises(ValidationError) as caught:
        NotifySettings.only(**values)
    return describe_error(caught.value, NotifySettings)


def test_pushover_telegram_and_email_urls_are_read_without_sending() -> None:
    s = NotifySettings.only(urls=f"{PUSHOVER}\n{TELEGRAM} {MAILTOS}")
    assert len(s.targets) == 3
    shown = [t.shown for t in targets(s.targets)]
    assert shown[0].startswith("pover://") and shown[1].startswith("tgram://")
    assert "s3cret" not in shown[2]  # a log names a target without its secret


@pytest.mark.parametrize(
    "url",
    [
        "tgram://123456789/-1001234567890",  # a bot id without its token
        "tgram://AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-1001234567890",  # a token without its bot
        "pover://",  # no user key nor token
        "pushover.net/uQiRzpo4",  # no scheme
        "toaster://kitchen",  # a scheme apprise does not know
    ],
)
def test_a_url_apprise_cannot_send_to_is_refused(url: str) -> None:
    message = error_of(urls=url)
    assert message.startswith("WATTBUS_NOTIFY_URLS target 1")
    assert "AAHdq" not in message  # the secret is not in the one line


def test_urls_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "urls"
    secret.write_text(f"{PUSHOVER}\n{TELEGRAM}\n")
    monkeypatch.setenv("WATTBUS_NOTIFY_URLS_FILE", str(secret))
    monkeypatch.chdir(tmp_path)
    assert NotifySettings().targets == (PUSHOVER, TELEGRAM)


def test_switches_and_intervals_per_kind() -> None:
    s = NotifySettings.only(
        urls=PUSHOVER, off="command_rejected, ev_ended", intervals="device_offline=3600"
    )
    rules = s.rules
    assert Kind.COMMAND_REJECTED not in rules.enabled and Kind.EV_DETECTED in rules.enabled
    assert rules.intervals[Kind.DEVICE_OFFLINE] == timedelta(hours=1)
    assert rules.intervals[Kind.EV_DETECTED] == timedelta(minutes=15)


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"urls": " \n"}, "WATTBUS_NOTIFY_URLS is required"),
        ({"off": "ev_started"}, "WATTBUS_NOTIFY_OFF names no kind: ev_started"),
        ({"intervals": "device_offline=soon"}, "WATTBUS_NOTIFY_INTERVALS 'device_offline=soon'"),
        ({"intervals": "device_offline=90000"}, "WATTBUS_NOTIFY_INTERVALS"),
        ({"quiet": "22:00-22:00"}, "WATTBUS_NOTIFY_QUIET should be HH:MM-HH:MM"),
        ({"quiet": "25:00-07:00"}, "WATTBUS_NOTIFY_QUIET"),
        ({"timezone": "Mars/Olympus"}, "WATTBUS_NOTIFY_TIMEZONE is not a time zone"),
        ({"per_hour": 0}, "WATTBUS_NOTIFY_PER_HOUR"),
        ({"interval": -1}, "WATTBUS_NOTIFY_INTERVAL "),
    ],
)
def test_a_bad_value_names_its_variable(values: dict[str, object], variable: str) -> None:
    assert error_of(**({"urls": PUSHOVER} | values)).startswith(variable)
