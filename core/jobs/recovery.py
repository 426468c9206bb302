"""What a worker cleans up when it starts: the leftovers of workers that died.

A worker killed at any moment leaves the store consistent (every change is one transaction),
but it can leave
  - running jobs with its id: handed back to the queue at once when its process is gone from
    this host (the worker id holds host and pid), else when its heartbeat goes stale;
  - its worker row;
  - temporary directories (`artifacts.atomic_dir`, `artifacts.scratch_dir`);
  - complete artifact directories that no row references: `atomic_dir` renames an encoder
    into place before the retrain computes its metrics and publishes the row, so a kill in
    between leaves an orphan (the same for a version or an export directory).
Orphans are removed only when no other worker is live, or once they are older than a grace
period: another live worker may have just renamed a directory it is about to publish.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from pathlib import Path

from core import artifacts, config, store

log = logging.getLogger("sieve.recovery")
ARTIFACT_KINDS = ("encoders", "versions", "exports")
# An unreferenced directory this old is nobody's work in progress (publishing takes seconds to minutes).
ORPHAN_GRACE_S = float(os.environ.get("SIEVE_ORPHAN_GRACE_S", "3600"))


def at_startup(db, worker_id: str) -> dict:
    """Everything a starting worker cleans up; returns what it found, for the log and benchmarks."""
    found = {"dead_workers": reap_dead_workers(db, worker_id),
             "stale_jobs": len(store.requeue_stale_jobs(db)),
             "temporary_dirs": artifacts.sweep_temporary()}
    others = [w for w in store.live_workers(db) if w["id"] != worker_id]
    found["orphan_dirs"] = len(sweep_orphans(db, grace_s=ORPHAN_GRACE_S if others else 0.0))
    if any(found.values()):
        log.info("startup clean-up: %s", found)
    return found


def reap_dead_workers(db, worker_id: str) -> int:
    """Remove rows of workers that are dead: this host's whose process is gone (their running
    jobs go back to the queue now, not after the stale timeout), and any whose heartbeat is stale."""
    host, cutoff, reaped = socket.gethostname(), store.now() - config.STALE_AFTER_S, 0
    for row in store.db_workers(db):
        if row["id"] == worker_id:
            continue
        gone = row["host"] == host and row["pid"] and not artifacts._alive(int(row["pid"]))
        if gone or row["heartbeat_at"] < cutoff:
            store.reap_worker(db, row["id"])
            reaped += 1
    return reaped


def referenced_dirs(db) -> set[Path]:
    """Every artifact directory a row of the store points at."""
    return {Path(p).resolve() for p in store.referenced_paths(db.conn)}


def sweep_orphans(db, grace_s: float = ORPHAN_GRACE_S) -> list[Path]:
    """Remove complete artifact directories that no row references and that are older than
    `grace_s`; also the directories of projects that no longer exist. Returns what it removed."""
    root = config.data_dir() / "projects"
    if not root.exists():
        return []
    keep, projects = referenced_dirs(db), {str(p["id"]) for p in store.projects(db)}
    cutoff, removed = time.time() - grace_s, []
    for project_dir in root.iterdir():
        if not project_dir.is_dir():
            continue
        if project_dir.name not in projects:
            candidates = [project_dir]  # a deleted project whose files outlived its rows
        else:
            candidates = [d for kind in ARTIFACT_KINDS if (project_dir / kind).is_dir()
                          for d in (project_dir / kind).iterdir()
                          if d.is_dir() and not d.name.startswith(artifacts.TMP_PREFIX) and d.resolve() not in keep]
        for directory in candidates:
            if directory.stat().st_mtime <= cutoff:
                shutil.rmtree(directory, ignore_errors=True)
                removed.append(directory)
    return removed
