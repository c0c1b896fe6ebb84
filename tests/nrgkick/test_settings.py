"""The service's settings as `wattbus run nrgkick` reads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from wattbus_nrgkick.settings import NrgkickSettings


def run_nrgkick(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    return subprocess.run(
        [sys.executable, "-m", "wattbus", "run", "nrgkick"],
        env={**clean, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_without_a_host_it_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_nrgkick(tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "WATTBUS_NRGKICK_HOST is required" in result.stderr


def test_a_connect_without_its_mac_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_nrgkick(tmp_path, WATTBUS_NRGKICK_API="connect", WATTBUS_NRGKICK_HOST="127.0.0.1")
    assert result.returncode == 2
    assert "WATTBUS_NRGKICK_MAC is required" in result.stderr


def test_the_password_comes_from_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "nrgkick-device.password"
    secret.write_text("1234\n")
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("WATTBUS_NRGKICK_HOST", "127.0.0.1")
    monkeypatch.setenv("WATTBUS_NRGKICK_API", "connect")
    monkeypatch.setenv("WATTBUS_NRGKICK_MAC", "AA:BB:CC:DD:EE:FF")
    monkeypatch.setenv("WATTBUS_NRGKICK_PASSWORD_FILE", str(secret))
    settings = NrgkickSettings()
    assert settings.connect_password == "1234"
    assert "1234" not in repr(settings)


def test_a_connect_without_a_password_uses_its_factory_one() -> None:
    settings = NrgkickSettings.only(host="127.0.0.1", api="connect", mac="AA:BB:CC:DD:EE:FF")
    assert settings.connect_password == "0000"


@pytest.mark.parametrize(
    "values",
    [
        {"host": "http://127.0.0.1"},
        {"host": "127.0.0.1", "mac": "AA-BB"},
        {"host": "127.0.0.1", "username": "admin"},  # BasicAuth without its password
        {"host": "127.0.0.1", "poll_interval": 0.5},
        {"host": "127.0.0.1", "api": "modbus"},
    ],
)
def test_values_that_cannot_work_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        NrgkickSettings.only(**values)
