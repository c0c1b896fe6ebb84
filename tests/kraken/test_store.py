"""The store on disk: windows and their life cycle outlive a restart (the file opened again),
and old ones are pruned."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wattbus.models import DispatchKind
from wattbus_kraken.lifecycle import Status, reconcile
from wattbus_kraken.store import WITHDRAWN_KEEP, Store, path_of
from wattbus_kraken.windows import Dispatch, normalise

NOW = datetime(2026, 6, 10, 9, 5, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def poll(
    store: Store, now: datetime, *spans: tuple[float, float], ids: itertools.count[int]
) -> None:
    planned = normalise(Dispatch(at(a), at(b), DispatchKind.SMART, 1000.0) for a, b in spans)
    rows, _ = reconcile(store.windows(), planned, None, now, lambda: f"id{next(ids)}")
    store.save(rows)


async def test_windows_and_their_sequence_outlive_a_restart(tmp_path: Path) -> None:
    path = path_of(tmp_path, "kraken")
    ids = itertools.count(1)
    async with Store(path) as store:
        poll(store, NOW, (60, 100), (300, 330), ids=ids)
        poll(store, at(3), (90, 130), (300, 330), ids=ids)  # the first moves
        store.set_meta({"device_id": "dev-1", "source": "flex"})
    async with Store(path) as store:
        rows = {r.id: r for r in store.windows()}
        assert store.meta("device_id") == "dev-1" and store.meta("source") == "flex"
        poll(store, at(6), (300, 330), ids=ids)  # and is withdrawn after the restart
        after = {r.id: r for r in store.windows()}
    first = rows["id1"]
    assert first.status is Status.RESCHEDULED and first.sequence == 1
    assert first.original_start == datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
    assert first.start == datetime(2026, 6, 10, 10, 30, tzinfo=UTC)
    assert first.energy == 1000.0 and first.first_seen == NOW
    assert after["id1"].status is Status.WITHDRAWN and after["id1"].sequence == 1
    assert after["id2"].status is Status.PLANNED
    assert set(after) == {"id1", "id2"}  # no window twice


async def test_the_file_is_sqlite_in_wal_mode(tmp_path: Path) -> None:
    path = path_of(tmp_path / "state", "kraken")
    async with Store(path):
        pass
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_withdrawn_and_old_completed_windows_are_pruned(tmp_path: Path) -> None:
    ids = itertools.count(1)
    async with Store(path_of(tmp_path, "kraken")) as store:
        poll(store, NOW, (60, 80), (150, 170), (240, 270), ids=ids)
        poll(store, at(3), (240, 270), ids=ids)  # two withdrawn
        done = [r for r in store.windows() if r.id == "id3"]
        rows, _ = reconcile(done, [], None, at(300), lambda: "x")  # id3 ends: completed
        store.save(rows)
        assert store.prune(at(3) + WITHDRAWN_KEEP - timedelta(minutes=1), timedelta(days=30)) == 0
        assert store.prune(at(4) + WITHDRAWN_KEEP, timedelta(days=30)) == 2
        assert [r.status for r in store.windows()] == [Status.COMPLETED]
        assert store.prune(at(300) + timedelta(days=29), timedelta(days=30)) == 0
        assert store.prune(at(300) + timedelta(days=31), timedelta(days=30)) == 1
        assert store.windows() == []
