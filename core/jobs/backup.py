"""Online backup and restore of a data directory.

`backup(out)` copies the database with SQLite's backup API, which reads one consistent
snapshot while annotators and the worker keep writing (WAL readers never block writers), then
copies the artifact directories that snapshot references (encoders, versions, exports). The
output is a directory: `sieve.db`, `projects/...` as in the data directory, `manifest.json`.

`restore(src)` refuses while a worker is live (it would write into the store being replaced),
copies the database back with the same API (so open connections see the restored store, and
no stale -wal file can undo it), copies the artifacts back and rewrites their paths when the
data directory moved. Artifacts that the restored store does not reference are then orphans,
which the next worker's startup clean-up removes.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from core import config, store

DB_NAME, MANIFEST = "sieve.db", "manifest.json"


class BackupError(RuntimeError):
    """A backup or restore refused, with a message meant for the user."""


def backup(out: Path) -> dict:
    """Write a consistent copy of the data directory to `out` (a new or empty directory)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise BackupError(f"{out} is not empty; back up into a new directory.")
    out.mkdir(parents=True, exist_ok=True)
    source, started = config.data_dir(), time.perf_counter()
    snapshot = store.copy_to(store.connect(), out / DB_NAME)  # all pages in one step: one snapshot
    annotations, labels, paths = snapshot["annotations"], snapshot["labels"], snapshot["paths"]
    copied = 0
    for path in map(Path, paths):
        if path.is_dir() and path.is_relative_to(source):
            # Artifacts never change once published, so a copy made after the snapshot is the same.
            shutil.copytree(path, out / path.relative_to(source), dirs_exist_ok=True)
            copied += 1
    summary = {"source": str(source), "created_at": store.now(), "annotations": annotations, "labels": labels,
               "artifact_dirs": copied, "missing_artifact_dirs": len(paths) - copied,
               "seconds": round(time.perf_counter() - started, 3)}
    (out / MANIFEST).write_text(json.dumps(summary, indent=1))
    return summary


def restore(src: Path) -> dict:
    """Replace the data directory's store and artifacts with the backup in `src`."""
    src = Path(src)
    manifest = json.loads((src / MANIFEST).read_text()) if (src / MANIFEST).exists() else None
    if manifest is None or not (src / DB_NAME).exists():
        raise BackupError(f"{src} is not a Sieve backup (no {MANIFEST} or {DB_NAME}).")
    backup_db = store.open_intact(src / DB_NAME)
    if backup_db is None:
        raise BackupError(f"{src / DB_NAME} is damaged (integrity_check failed); it was not restored.")
    db = store.connect()
    live = store.live_workers(db)
    if live:
        raise BackupError(f"A worker is running ({', '.join(w['id'] for w in live)}); stop it first "
                          "(restoring under it would mix its writes with the backup).")
    target = config.data_dir()
    if (src / "projects").exists():
        shutil.copytree(src / "projects", target / "projects", dirs_exist_ok=True)
    store.copy_from(db, backup_db)
    backup_db.close()
    _move_paths(db, Path(manifest["source"]), target)
    return {**manifest, "restored_to": str(target)}


def _move_paths(db, old: Path, new: Path) -> None:
    """Point the restored rows at this data directory when the backup came from another one."""
    if old == new:
        return
    store.move_paths(db, str(old), str(new))
