"""`wattbus notify test` as a user runs it: a real process sending to a real receiver."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from support.receivers import webhook
from support.smtp import a_closed_port


async def notify_test(urls: str, cwd: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTBUS_")}
    env["WATTBUS_NOTIFY_URLS"] = urls
    env["WATTBUS_NOTIFY_HOME"] = "Elm Cottage"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wattbus", "notify", "test",
        env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_every_target_gets_one_message(tmp_path: Path) -> None:
    async with webhook() as first, webhook() as second:
        code, out, err = await notify_test(f"{first.url} {second.url}", tmp_path)
        assert code == 0, err
        assert "sent to all 2 targets" in out
        for hook in (first, second):
            (post,) = await hook.wait_for(1)
            assert post["title"] == "Elm Cottage: test"


async def test_a_target_that_fails_is_named_and_exits_1(tmp_path: Path) -> None:
    down = f"json://127.0.0.1:{await a_closed_port()}/hook"
    async with webhook() as hook:
        code, _out, err = await notify_test(f"{hook.url} {down}", tmp_path)
        assert code == 1
        assert f"not sent to {down}" in err
        assert len(await hook.wait_for(1)) == 1


async def test_bad_settings_exit_2_with_one_line(tmp_path: Path) -> None:
    code, _out, err = await notify_test("toaster://kitchen", tmp_path)
    assert code == 2
    assert err.strip().splitlines() == [
        "wattbus: notify: WATTBUS_NOTIFY_URLS target 1 (toaster://...) is not a URL apprise "
        "can send to"
    ]
