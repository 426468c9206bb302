"""Whole-database operations: a consistent copy, an integrity check, copying a backup back,
and which artifact directories the rows reference."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from core.store.db import transaction
from core.store.jobs import export_dirs
from core.store.labels import in_effect
from core.store.versions import artifact_dirs


def referenced_paths(conn: sqlite3.Connection) -> list[str]:
    """Artifact directories the store references (absolute paths, as stored), sorted."""
    return sorted(set(artifact_dirs(conn) + export_dirs(conn)))


def copy_to(db, path: Path) -> dict:
    """Write one consistent snapshot of the database to a new single-file database at `path`
    (SQLite's backup API, all pages in one step, so writers keep going). Returns what the copy
    holds: {annotations, labels (in effect, every project), paths (`referenced_paths`)}."""
    copy = sqlite3.connect(path)
    try:
        db.conn.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        return {"annotations": copy.execute("SELECT count(*) FROM annotations").fetchone()[0],
                "labels": copy.execute(
                    f"SELECT count(DISTINCT a.example_id) FROM annotations a WHERE {in_effect('a')}").fetchone()[0],
                "paths": referenced_paths(copy)}
    finally:
        copy.close()


def open_intact(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to the database file at `path`, None when SQLite's integrity check fails."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
        conn.close()
        return None
    return conn


def copy_from(db, source: sqlite3.Connection) -> None:
    """Replace the whole database with `source` (the backup API, so open connections see it and
    no stale -wal file can undo it). Not inside a transaction: the backup API takes its own locks."""
    with db.conn:
        source.backup(db.conn)


def move_paths(db, old: str, new: str) -> None:
    """Point every stored artifact path under `old` at `new` (a data directory that moved)."""
    with transaction(db) as conn:
        for table, column in (("encoders", "path"), ("encoders", "model"), ("model_versions", "path"),
                              ("jobs", "result")):
            conn.execute(f"UPDATE {table} SET {column} = replace({column}, ?, ?) WHERE instr({column}, ?) > 0",
                         (old, new, old))
