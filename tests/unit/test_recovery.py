"""Finding 7: what a killed worker leaves behind is cleaned up when a worker starts.

A retrain killed after its encoder directory was renamed into place, but before the version
row was inserted, leaves a complete directory that no row references; the same for a version
or an export directory. The startup sweep removes those (past a grace period while another
worker is live), SetFit's scratch directories of dead processes, and dead worker rows, whose
running jobs go back to the queue at once instead of waiting for their heartbeat to go stale.
"""
import os
import socket
import subprocess
import time

import pytest

from core import artifacts, config, store
from core.jobs import worker
from tests.conftest import make_project


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def make_dir(path, age_s: float = 0.0):
    path.mkdir(parents=True)
    (path / "file.npy").write_bytes(b"x")
    if age_s:
        old = time.time() - age_s
        os.utime(path, (old, old))
    return path


def start_and_stop_worker() -> None:
    """The real startup path, then an immediate clean stop."""
    w = worker.Worker(lanes=())
    w.stop.set()
    w.run()


@pytest.fixture
def project(db):
    """A project with one published encoder, one version and one finished export."""
    pid = make_project(db)
    root = artifacts.project_dir(pid)
    enc, ver, exp = (make_dir(root / "encoders" / "enc-kept"), make_dir(root / "versions" / "v-kept"),
                     make_dir(root / "exports" / "v1-kept"))
    with store.transaction(db) as conn:
        encoder_id = store.add_encoder(conn, pid, store.NewEncoder("default", str(enc), 3, 4, 0.1, "sentence-transformers"))
        version_id = store.publish_version(conn, pid, store.NewVersion("head", encoder_id, str(ver), 0, 0, {}, {}, {}))
        job = store.enqueue(conn, pid, store.JobKind.EXPORT, {"version_id": version_id})
        store.finish_job(conn, job, result={"path": str(exp / "model.zip"), "version_id": version_id})
        conn.execute("UPDATE jobs SET status = 'done' WHERE status = 'queued'")
    return pid, (enc, ver, exp)


def test_startup_removes_unreferenced_artifacts_and_keeps_referenced_ones(db, project):
    pid, kept = project
    root = artifacts.project_dir(pid)
    orphans = [make_dir(root / "encoders" / "enc-orphan"), make_dir(root / "versions" / "v-orphan"),
               make_dir(root / "exports" / "v2-orphan")]
    start_and_stop_worker()
    assert all(path.exists() for path in kept)
    assert not any(path.exists() for path in orphans)
    assert store.encoder(db, store.latest_encoder(db, pid)["id"])  # rows untouched


def test_a_live_workers_fresh_directory_survives_the_grace_period(db, project):
    pid, _ = project
    root = artifacts.project_dir(pid)
    store.worker_heartbeat(db, "elsewhere:1:abc", 1, "elsewhere", "cpu")  # another worker, alive
    fresh = make_dir(root / "encoders" / "enc-just-renamed")  # about to be published by that worker
    old = make_dir(root / "versions" / "v-old-orphan", age_s=2 * 3600)
    start_and_stop_worker()
    assert fresh.exists() and not old.exists()


def test_setfit_scratch_of_dead_processes_is_swept(db):
    host = socket.gethostname()
    dead = make_dir(config.data_dir() / "scratch" / f".tmp-{host}-{dead_pid()}-scratch-abc")
    live = make_dir(config.data_dir() / "scratch" / f".tmp-{host}-{os.getpid()}-scratch-def")
    start_and_stop_worker()
    assert not dead.exists() and live.exists()


def test_setfit_trains_in_scratch_inside_the_data_directory():
    from core.learning.classifiers import setfit_family

    with artifacts.scratch_dir() as scratch:
        assert scratch.is_relative_to(config.data_dir()) and scratch.name.startswith(artifacts.TMP_PREFIX)
    assert not scratch.exists()
    assert "tempfile" not in open(setfit_family.__file__).read()


def test_a_dead_workers_jobs_are_re_queued_at_once_and_its_row_removed(db):
    make_project(db)
    host, pid = socket.gethostname(), dead_pid()
    dead_id = f"{host}:{pid}:abcdef"
    store.worker_heartbeat(db, dead_id, pid, host, "cpu")  # its heartbeat is still fresh
    job = store.claim_job(db, dead_id, (store.JobKind.EMBED,))
    store.worker_heartbeat(db, "far:1:old", 1, "far", "cpu")
    db.conn.execute("UPDATE workers SET heartbeat_at = 0 WHERE id = 'far:1:old'")  # dead long ago, other host
    start_and_stop_worker()
    row = store.job(db, job["id"])
    assert row["status"] == store.JobStatus.QUEUED and row["worker"] is None
    assert row["message"] == f"the worker stopped responding; re-queued (attempt 1 of {config.MAX_ATTEMPTS})"
    assert {w["id"] for w in store.db_workers(db)} == set()
