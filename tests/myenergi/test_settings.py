"""The service's settings as `wattbus run myenergi` reads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from wattbus_myenergi.settings import MyenergiSettings


def test_without_a_hub_serial_it_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    result = subprocess.run(
        [sys.executable, "-m", "wattbus", "run", "myenergi"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "WATTBUS_MYENERGI_HUB_SERIAL is required" in result.stderr
    assert "WATTBUS_MYENERGI_API_KEY is required" in result.stderr


def test_the_key_comes_from_its_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "myenergi-api-key"
    key.write_text("secret-key\n")
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("WATTBUS_MYENERGI_HUB_SERIAL", "21509692")
    monkeypatch.setenv("WATTBUS_MYENERGI_API_KEY_FILE", str(key))
    settings = MyenergiSettings()
    assert settings.api_key.get_secret_value() == "secret-key"
    assert "secret-key" not in repr(settings)


@pytest.mark.parametrize(
    ("field", "value"),
    [("hub_serial", "H123"), ("poll_interval", 1.0), ("loopback_port", 0)],
)
def test_values_that_cannot_work_are_refused(field: str, value: object) -> None:
    values: dict[str, object] = {"hub_serial": "21509692", "api_key": "k", field: value}
    with pytest.raises(ValidationError):
        MyenergiSettings.only(**values)
