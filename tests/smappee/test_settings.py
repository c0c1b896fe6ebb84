"""The bridge's settings as `wattbus run smappee` reads them: a real process, real exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LOGIN = {
    "WATTBUS_SMAPPEE_CLIENT_ID": "wattbus",
    "WATTBUS_SMAPPEE_CLIENT_SECRET": "secret",
    "WATTBUS_SMAPPEE_USERNAME": "owner",
    "WATTBUS_SMAPPEE_PASSWORD": "pass",
}


def run_smappee(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    return subprocess.run(
        [sys.executable, "-m", "wattbus", "run", "smappee"],
        env={**clean, **env}, cwd=tmp_path, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_without_its_settings_it_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_smappee(tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("wattbus: smappee: WATTBUS_SMAPPEE_CLIENT_ID is required")


def test_a_missing_password_is_named_alone(tmp_path: Path) -> None:
    result = run_smappee(tmp_path, **{k: v for k, v in LOGIN.items() if "PASSWORD" not in k})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "wattbus: smappee: WATTBUS_SMAPPEE_PASSWORD is required"
    ]
