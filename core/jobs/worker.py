"""The background worker: claims jobs from the store, runs them, publishes results.

Three lanes run side by side in one process, so a minutes-long retrain never delays the
millisecond head refits that keep the annotators' queue fresh, nor a new project's embedding:
  fast lane: `head` jobs;  embed lane: `embed` and `export` jobs;  slow lane: `full` jobs.
The main thread heartbeats the worker and its running jobs and re-queues jobs whose
worker died (stale heartbeat). Start it with `python -m core worker`.
"""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

from core import config, store
from core.files import model_export, predict
from core.jobs import recovery, training

log = logging.getLogger("sieve.worker")
HEARTBEAT_S = 1.0
# How long a stopping worker waits for its lanes to reach a step boundary before it exits anyway.
STOP_GRACE_S = float(os.environ.get("SIEVE_STOP_GRACE_S", "5"))


class Interrupted(Exception):
    """The worker is stopping: the job is handed back to the queue, not failed."""


def run_job(db, job: dict, stop: threading.Event | None = None) -> None:
    """Run one claimed job; any failure is recorded on the job, never raised.

    Training reports progress after every step and embedding after every chunk; once `stop` is
    set, the next report raises `Interrupted`, so a lane leaves a minutes-long retrain within a
    step and the job goes back to the queue (artifacts are only ever written to temporary
    directories, which the unwinding removes)."""
    def progress(fraction: float, message: str) -> None:
        if stop is not None and stop.is_set():
            raise Interrupted("the worker is stopping")
        store.job_progress(db, job["id"], fraction, message)

    try:
        if job["kind"] == store.EMBED:
            training.embed_pool(db, job["project_id"], job["id"], progress)
        elif job["kind"] == store.HEAD:
            _drop_superseded_heads(db, job)
            training.refit_head(db, job["project_id"], job["id"])
        elif job["kind"] == store.FULL:
            training.full_retrain(db, job["project_id"], job["id"], progress)
        elif job["kind"] == store.EXPORT:
            model_export.run_export(db, job, progress)
        elif job["kind"] == store.PREDICT:
            predict.run_predict(db, job, progress)
        elif job["kind"] == store.QUALITY:
            from core.team import quality

            result = quality.analyse(db, job["project_id"])  # outside the write transaction
            with store.transaction(db) as conn:
                store.finish_job(conn, job["id"], message="analysed", result=result)
        else:
            raise ValueError(f"unknown job kind {job['kind']!r}")
    except Interrupted:
        log.info("job %s interrupted: the worker is stopping", job["id"])  # Worker.run hands it back
    except training.NothingToDo as reason:
        with store.transaction(db) as conn:
            store.finish_job(conn, job["id"], message=f"nothing to do: {reason}")
    except Exception:
        log.exception("job %s failed", job["id"])
        store.fail_job(db, job["id"], traceback.format_exc())


def _drop_superseded_heads(db, job: dict) -> None:
    """A head refit uses the latest labels, so queued refits of the same project are redundant."""
    with store.transaction(db) as conn:
        conn.execute(
            """UPDATE jobs SET status = 'done', message = 'superseded by job ' || ?, finished_at = ?, progress = 1
               WHERE project_id = ? AND kind = 'head' AND status = 'queued' AND id != ?""",
            (job["id"], store.now(), job["project_id"], job["id"]),
        )


class Worker:
    def __init__(self, db_path: Path | None = None, lanes: tuple[str, ...] = tuple(store.LANES),
                 poll_s: float = 0.05):
        self.db_path = db_path or config.db_path()
        self.lanes = lanes
        self.poll_s = poll_s
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stop = threading.Event()

    def _lane(self, lane: str) -> None:
        db = store.connect(self.db_path)
        kinds = store.LANES[lane]
        while not self.stop.is_set():
            job = store.claim_job(db, self.id, kinds)
            if job is None:
                self.stop.wait(self.poll_s)
                continue
            log.info("running job %s (%s, project %s)", job["id"], job["kind"], job["project_id"])
            run_job(db, job, self.stop)

    def run(self) -> bool:
        """Run until `stop` is set (a signal, see cli.cmd_worker); then hand running jobs back.

        Returns whether every lane finished within STOP_GRACE_S. A lane still inside a long
        torch call is a daemon thread: the caller should then leave with `os._exit`, because
        letting the interpreter tear such a thread down aborts the process (SIGABRT,
        "terminate called without an active exception")."""
        from core.learning import embeddings

        db = store.connect(self.db_path)
        recovery.at_startup(db, self.id)
        store.worker_heartbeat(db, self.id, os.getpid(), socket.gethostname(), embeddings.device())
        threads = [threading.Thread(target=self._lane, args=(lane,), name=f"lane-{lane}", daemon=True)
                   for lane in self.lanes]
        for thread in threads:
            thread.start()
        try:
            while not self.stop.wait(HEARTBEAT_S):
                store.worker_heartbeat(db, self.id, os.getpid(), socket.gethostname(), embeddings.device())
                store.heartbeat_jobs(db, self.id)
                store.requeue_stale_jobs(db)
        finally:
            self.stop.set()
            finished = _join(threads, STOP_GRACE_S)
            store.requeue_worker_jobs(db, self.id)
            store.remove_worker(db, self.id)
        return finished


def _join(threads: list[threading.Thread], grace_s: float) -> bool:
    """Wait up to `grace_s` in all for the threads to end; whether they all did."""
    deadline = time.monotonic() + grace_s
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    alive = [t.name for t in threads if t.is_alive()]
    if alive:
        log.warning("lanes %s did not stop within %.0f s; their jobs are handed back", alive, grace_s)
    return not alive


def spawn(data_dir: Path | None = None) -> subprocess.Popen:
    """Start a detached worker process for this data directory."""
    data_dir = data_dir or config.data_dir()
    log_file = open(Path(data_dir) / "worker.log", "ab")
    env = {**os.environ, "SIEVE_DATA_DIR": str(data_dir)}
    return subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=str(config.REPO_ROOT), env=env,
                            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def ensure_worker(db, data_dir: Path | None = None, grace_s: float = 20.0) -> str:
    """Start a worker unless a live one is found or the team runs its own (SIEVE_WORKER=external).

    A lock file keeps two UI sessions from starting two workers at once; the grace period
    covers a worker that was started but has not heartbeaten yet (imports take seconds).
    """
    if config.external_worker():
        return "external"
    if store.live_workers(db):
        return "running"
    import fcntl

    data_dir = Path(data_dir or config.data_dir())
    with open(data_dir / "worker.spawn", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.seek(0)
        last = lock.read().strip()
        if last and time.time() - float(last) < grace_s:
            return "starting"
        if store.live_workers(db):
            return "running"
        spawn(data_dir)
        lock.seek(0)
        lock.truncate()
        lock.write(str(time.time()))
    return "started"
