"""The background worker: claims jobs from the store, runs them, publishes results.

Three lanes run side by side in one process, so a minutes-long retrain never delays the
millisecond head refits that keep the annotators' queue fresh, nor a new project's embedding:
  fast lane: `head` jobs;  embed lane: embedding, exports, predictions, analyses;  slow lane: `full` jobs.
`JOBS` says, for every job kind, which handler runs it and in which lane; the lanes follow from it.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core import artifacts, config, store
from core.files import hf_datasets, model_export, predict
from core.jobs import kinds, ray_backend, recovery, training
from core.learning.classifiers.protocol import Progress
from core.team import multilabel_quality, quality

log = logging.getLogger("sieve.worker")
HEARTBEAT_S = 1.0
# How long a stopping worker waits for its lanes to reach a step boundary before it exits anyway.
STOP_GRACE_S = float(os.environ.get("SIEVE_STOP_GRACE_S", "5"))


class Interrupted(Exception):
    """The worker is stopping: the job is handed back to the queue, not failed."""


class Cancelled(Exception):
    """The job was cancelled while it ran (its project was deleted): stop, publish nothing."""


# ---------------------------------------------------------------- what each job kind does, and where

# A handler runs one claimed job and finishes it (store.finish_job); `progress` reports a fraction
# and a message, and raises Interrupted once the worker is stopping.
Handler = Callable[[object, dict, Progress], None]


def _embed(db, job: dict, progress: Progress) -> None:
    training.embed_pool(db, job["project_id"], job["id"], progress)


def _refit_head(db, job: dict, progress: Progress) -> None:
    _drop_superseded_heads(db, job)
    training.refit_head(db, job["project_id"], job["id"])


def _full_retrain(db, job: dict, progress: Progress) -> None:
    training.full_retrain(db, job["project_id"], job["id"], progress)


def _analyse(db, job: dict, progress: Progress) -> None:
    multi = store.project_kind(db, job["project_id"]) == "multi"  # agreement per label (issue 21)
    result = (multilabel_quality if multi else quality).analyse(db, job["project_id"])  # outside the write transaction
    with store.transaction(db) as conn:
        store.finish_job(conn, job["id"], message="analysed", result=result)


@dataclass(frozen=True)
class JobSpec:
    lane: str
    run: Handler


# Each lane is a thread of the worker, so work of one kind never waits behind another:
# head refits take milliseconds, embedding, exports and analyses seconds, full retrains minutes.
FAST, EMBED, SLOW = "fast", "embed", "slow"
# Every job kind: its handler and its lane (its name for users is core.jobs.kinds.NAMES).
JOBS: dict[str, JobSpec] = {
    store.JobKind.HEAD: JobSpec(FAST, _refit_head),
    store.JobKind.EMBED: JobSpec(EMBED, _embed),
    store.JobKind.EXPORT: JobSpec(EMBED, model_export.run_export),
    store.JobKind.DATASET_EXPORT: JobSpec(EMBED, hf_datasets.run_export),
    store.JobKind.PREDICT: JobSpec(EMBED, predict.run_predict),
    store.JobKind.QUALITY: JobSpec(EMBED, _analyse),
    store.JobKind.FULL: JobSpec(SLOW, _full_retrain),
}
LANES: dict[str, tuple[str, ...]] = {lane: tuple(kind for kind, spec in JOBS.items() if spec.lane == lane)
                                     for lane in (FAST, EMBED, SLOW)}


def run_job(db, job: dict, stop: threading.Event | None = None) -> None:
    """Run one claimed job by its kind's handler; any failure is recorded on the job, never raised.

    Training reports progress after every step and embedding after every chunk; once `stop` is
    set, the next report raises `Interrupted`, so a lane leaves a minutes-long retrain within a
    step and the job goes back to the queue (artifacts are only ever written to temporary
    directories, which the unwinding removes)."""
    def progress(fraction: float, message: str) -> None:
        if stop is not None and stop.is_set():
            raise Interrupted("the worker is stopping")
        if not store.job_progress(db, job["id"], fraction, message):
            raise Cancelled(f"job {job['id']} is no longer running")

    try:
        spec = JOBS.get(kinds.kind_of(job))
        if spec is None:
            raise ValueError(f"unknown job kind {job['kind']!r}")
        spec.run(db, job, progress)
    except Interrupted:
        log.info("job %s interrupted: the worker is stopping", job["id"])  # Worker.run hands it back
    except (Cancelled, store.JobCancelled) as cancelled:
        _discard(db, job, cancelled)
    except ray_backend.RayLost as lost:  # like a worker that died: re-queued, the attempt counts
        log.warning("job %s: %s", job["id"], lost)
        store.requeue_lost(db, job["id"], "a Ray node or actor was lost")
    except training.NothingToDo as reason:
        with store.transaction(db) as conn:
            store.finish_job(conn, job["id"], message=f"nothing to do: {reason}")
    except Exception as error:
        if store.job(db, job["id"]) is None:  # e.g. its files vanished with its deleted project
            _discard(db, job, error)
            return
        log.exception("job %s failed", job["id"])
        store.fail_job(db, job["id"], traceback.format_exc())


def _discard(db, job: dict, why: BaseException) -> None:
    """A cancelled job: nothing it computed was published (every publishing transaction checks the
    job first, `store.check_open`); the files of a deleted project it may have written go too.
    Project ids are never reused, so that directory can be no other project's."""
    log.info("job %s (project %s) cancelled, its results discarded: %s", job["id"], job["project_id"], why)
    if store.project(db, job["project_id"]) is None:
        artifacts.remove_project_dir(job["project_id"])


def _drop_superseded_heads(db, job: dict) -> None:
    """A head refit uses the latest labels, so queued refits of the same project are redundant."""
    store.drop_superseded_heads(db, job)


class Worker:
    def __init__(self, db_path: Path | None = None, lanes: tuple[str, ...] = tuple(LANES),
                 poll_s: float = 0.05):
        self.db_path = db_path or config.db_path()
        self.lanes = lanes
        self.poll_s = poll_s
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stop = threading.Event()

    def _lane(self, lane: str) -> None:
        db = store.connect(self.db_path)
        lane_kinds = LANES[lane]
        while not self.stop.is_set():
            job = store.claim_job(db, self.id, lane_kinds)
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
        db = store.connect(self.db_path)
        recovery.at_startup(db, self.id)
        device = compute_device()
        store.worker_heartbeat(db, self.id, os.getpid(), socket.gethostname(), device)
        threads = [threading.Thread(target=self._lane, args=(lane,), name=f"lane-{lane}", daemon=True)
                   for lane in self.lanes]
        for thread in threads:
            thread.start()
        try:
            while not self.stop.wait(HEARTBEAT_S):
                store.worker_heartbeat(db, self.id, os.getpid(), socket.gethostname(), device)
                store.heartbeat_jobs(db, self.id)
                store.requeue_stale_jobs(db)
        finally:
            self.stop.set()
            finished = _join(threads, STOP_GRACE_S)
            store.requeue_worker_jobs(db, self.id)
            store.remove_worker(db, self.id)
        return finished


def compute_device() -> str:
    """Where heavy jobs run: this host's device, or the Ray cluster's ('cuda' when it has a GPU)."""
    from core.learning import embeddings

    if not ray_backend.configured():
        return embeddings.device()
    try:
        return ray_backend.device()
    except Exception:  # noqa: BLE001 — jobs will fail (and retry) with the reason; the worker still runs
        log.exception("cannot reach the Ray cluster at %s", ray_backend.address())
        return "cpu"


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
