"""The service's settings as `wattbus run kasa` reads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kasa.deviceconfig import DeviceEncryptionType, DeviceFamily
from pydantic import ValidationError
from wattbus_kasa.plug import device_config
from wattbus_kasa.settings import KasaSettings


def run_kasa(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    return subprocess.run(
        [sys.executable, "-m", "wattbus", "run", "kasa"],
        env={**clean, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_without_a_host_it_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_kasa(tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "WATTBUS_KASA_HOST is required" in result.stderr


def test_a_username_without_its_password_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_kasa(tmp_path, WATTBUS_KASA_HOST="127.0.0.1", WATTBUS_KASA_USERNAME="me@home")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "WATTBUS_KASA_USERNAME" in result.stderr


def test_the_password_comes_from_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "kasa-device.password"
    secret.write_text("tapo-secret\n")
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("WATTBUS_KASA_HOST", "127.0.0.1")
    monkeypatch.setenv("WATTBUS_KASA_USERNAME", "me@home")
    monkeypatch.setenv("WATTBUS_KASA_PASSWORD_FILE", str(secret))
    settings = KasaSettings()
    assert settings.password is not None
    assert settings.password.get_secret_value() == "tapo-secret"
    assert "tapo-secret" not in repr(settings)


def test_without_a_login_the_legacy_protocol_with_a_login_tapos() -> None:
    legacy = device_config(KasaSettings.only(host="127.0.0.1", port=9998))
    tapo = device_config(KasaSettings.only(host="127.0.0.1", username="me", password="pw"))
    assert legacy.connection_type.encryption_type is DeviceEncryptionType.Xor
    assert (legacy.port_override, legacy.credentials) == (9998, None)
    assert tapo.connection_type.device_family is DeviceFamily.SmartTapoPlug
    assert tapo.connection_type.encryption_type is DeviceEncryptionType.Klap
    assert tapo.credentials is not None and tapo.credentials.password == "pw"
    assert tapo.port_override is None


def test_a_tapo_on_another_port_is_reached_there() -> None:
    """A port forward, or the fake Tapo in the tests: KLAP on the port set, not on 80."""
    s = KasaSettings.only(host="127.0.0.1", port=8080, username="me", password="pw")
    tapo = device_config(s)
    assert tapo.port_override == 8080
    assert tapo.connection_type.encryption_type is DeviceEncryptionType.Klap


@pytest.mark.parametrize(
    "values",
    [
        {"host": "127.0.0.1:9999"},  # the port has its own setting
        {"host": "http://127.0.0.1"},
        {"host": "127.0.0.1", "port": 0},
        {"host": "127.0.0.1", "password": "pw"},  # a password without its user
        {"host": "127.0.0.1", "poll_interval": 0.5},
        {"host": "127.0.0.1", "id": "a/b"},
    ],
)
def test_values_that_cannot_work_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KasaSettings.only(**values)
