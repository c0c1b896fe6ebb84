"""The dispatch windows and their life cycle, in `<state dir>/<id>.sqlite3`, so that they
outlive a restart: a window keeps its id (a calendar invite's UID) and its sequence.

SQLite in WAL mode, written only by this bridge. A poll changes a few rows, in one
transaction. Withdrawn windows are pruned after `WITHDRAWN_KEEP`, completed ones after the
retention period. The device id learnt from `devices` and the last fetch's details are kept
too, so a restart needs no extra request and publishes what it knew.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wattbus.closing import AsyncClosing
from wattbus.models import DispatchKind

from wattbus_kraken.lifecycle import Status, Stored

WITHDRAWN_KEEP = timedelta(days=2)
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS windows (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    start TEXT NOT NULL,
    "end" TEXT NOT NULL,
    raw_end TEXT NOT NULL,
    original_start TEXT NOT NULL,
    original_end TEXT NOT NULL,
    status TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    updated TEXT NOT NULL,
    energy REAL
);
CREATE INDEX IF NOT EXISTS windows_end ON windows ("end");
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
COLUMNS = ("id", "kind", "start", "end", "raw_end", "original_start", "original_end", "status",
           "sequence", "first_seen", "updated", "energy")  # fmt: skip
TIMES = {"start", "end", "raw_end", "original_start", "original_end", "first_seen", "updated"}


def path_of(state_dir: Path, device_id: str) -> Path:
    return state_dir / f"{device_id}.sqlite3"


class Store(AsyncClosing):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)  # transactions by hand
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: a power cut loses the last poll
        self._db.executescript(SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    async def close(self) -> None:
        self._db.close()

    def windows(self) -> list[Stored]:
        """Every window kept, by start."""
        names = ", ".join(f'"{c}"' for c in COLUMNS)
        rows = self._db.execute(f"SELECT {names} FROM windows ORDER BY start, kind")
        return [_stored(row) for row in rows]

    def save(self, rows: Iterable[Stored]) -> None:
        names = ", ".join(f'"{c}"' for c in COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        with self._transaction():
            self._db.executemany(
                f"INSERT OR REPLACE INTO windows ({names}) VALUES ({marks})",
                [_row(s) for s in rows],
            )

    def prune(self, now: datetime, retention: timedelta) -> int:
        """Drops withdrawn windows after `WITHDRAWN_KEEP`, completed ones `retention` after
        their end; returns how many."""
        with self._transaction():
            cursor = self._db.execute(
                "DELETE FROM windows WHERE (status = ? AND updated < ?) "
                'OR (status = ? AND "end" < ?)',
                (Status.WITHDRAWN, _text(now - WITHDRAWN_KEEP),
                 Status.COMPLETED, _text(now - retention)),
            )  # fmt: skip
        return cursor.rowcount

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, values: dict[str, str | None]) -> None:
        with self._transaction():
            for key, value in values.items():
                if value is None:
                    self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
                else:
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)
                    )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _text(t: datetime) -> str:
    """UTC, one fixed format: text order is time order."""
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def _row(s: Stored) -> tuple[object, ...]:
    return tuple(
        _text(getattr(s, c)) if c in TIMES else str(getattr(s, c)) if c in ("kind", "status")
        else getattr(s, c)
        for c in COLUMNS
    )  # fmt: skip


def _stored(row: tuple[object, ...]) -> Stored:
    values = dict(zip(COLUMNS, row, strict=True))
    times = {k: datetime.fromisoformat(str(values[k])) for k in TIMES}
    return Stored(
        id=str(values["id"]),
        kind=DispatchKind(str(values["kind"])),
        status=Status(str(values["status"])),
        sequence=int(str(values["sequence"])),
        energy=None if values["energy"] is None else float(str(values["energy"])),
        **times,
    )
