"""Jobs (the queue the worker claims from) and workers (their heartbeats)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from core import config
from core.store.db import StoreError, _decode, _one, _rows, now, transaction
from core.store.enums import JobStatus


class JobCancelled(StoreError):
    """The job is gone (its project was deleted, which deletes its jobs) or no longer open: whatever it
    computed is discarded, never published (issue 19 item 1)."""


def enqueue(conn: sqlite3.Connection, project_id: int, kind: str, params: dict | None = None,
            priority: int = 0) -> int:
    cur = conn.execute(
        "INSERT INTO jobs (project_id, kind, params, priority, created_at) VALUES (?, ?, ?, ?, ?)",
        (project_id, kind, json.dumps(params or {}), priority, now()),
    )
    return cur.lastrowid


def enqueue_coalesced(conn: sqlite3.Connection, project_id: int, kind: str, params: dict | None = None,
                      priority: int = 0) -> int:
    """Queue a job of this kind unless one already waits for the project: then the waiting one
    takes the newer label watermark and stays the only one (it reads the labels when it starts,
    so it covers them). A refit or retrain never piles up (issue 20: 18 queued refits while the
    pool was embedded). Returns the id of the job that will do it. Call inside `transaction()`."""
    row = conn.execute("SELECT id FROM jobs WHERE project_id = ? AND kind = ? AND status = 'queued' ORDER BY id LIMIT 1",
                       (project_id, kind)).fetchone()
    if row is None:
        return enqueue(conn, project_id, kind, params, priority)
    watermark = (params or {}).get("watermark")
    if watermark is not None:
        conn.execute("""UPDATE jobs SET params = json_set(params, '$.watermark', ?), priority = max(priority, ?)
                        WHERE id = ?""", (watermark, priority, row[0]))
    elif priority:
        conn.execute("UPDATE jobs SET priority = max(priority, ?) WHERE id = ?", (priority, row[0]))
    return row[0]


def claim_job(db, worker_id: str, kinds: tuple[str, ...]) -> dict | None:
    """Atomically move the next runnable queued job of these kinds to 'running'.

    While its project has embedding work pending, a head refit waits only until the first
    embeddings are published (it fits on the labeled texts embedded so far, and the embed job
    publishes the texts shown first, first); a full retrain waits until the embedding ends, then
    runs (it trains on and re-embeds the whole pool), rather than finding nothing to do.
    """
    marks = ",".join("?" * len(kinds))
    t = now()
    with transaction(db) as conn:
        row = conn.execute(
            f"""SELECT id FROM jobs j WHERE status = 'queued' AND kind IN ({marks})
                  AND NOT (kind IN ('head', 'full') AND EXISTS (
                      SELECT 1 FROM jobs e WHERE e.project_id = j.project_id AND e.kind = 'embed'
                        AND e.status IN ('queued', 'running'))
                      AND (kind = 'full' OR NOT EXISTS (SELECT 1 FROM encoders c WHERE c.project_id = j.project_id)))
                ORDER BY priority DESC, id LIMIT 1""",
            kinds,
        ).fetchone()
        if row is None:
            return None
        conn.execute(
            """UPDATE jobs SET status = 'running', worker = ?, heartbeat_at = ?, started_at = ?,
                   attempts = attempts + 1, progress = 0, message = 'started' WHERE id = ?""",
            (worker_id, t, t, row[0]),
        )
    return job(db, row[0])


def job(db, job_id: int) -> dict | None:
    return _decode(_one(db, "SELECT * FROM jobs WHERE id = ?", (job_id,)), "params", "result")


def jobs(db, project_id: int, limit: int = 50) -> list[dict]:
    return [_decode(r, "params", "result") for r in
            _rows(db, "SELECT * FROM jobs WHERE project_id = ? ORDER BY id DESC LIMIT ?", (project_id, limit))]


def has_active_job(db, project_id: int, kind: str,
                   statuses: tuple[str, ...] = (JobStatus.QUEUED, JobStatus.RUNNING)) -> bool:
    """Whether a job of this kind is in one of `statuses` for the project (by index, for the label transaction)."""
    marks = ",".join("?" * len(statuses))
    return db.conn.execute(
        f"SELECT 1 FROM jobs WHERE project_id = ? AND kind = ? AND status IN ({marks}) LIMIT 1",
        (project_id, kind, *statuses)).fetchone() is not None


def active_jobs(db, project_id: int) -> list[dict]:
    return [_decode(r, "params", "result") for r in _rows(
        db, "SELECT * FROM jobs WHERE project_id = ? AND status IN ('queued', 'running') ORDER BY id", (project_id,))]


def job_progress(db, job_id: int, progress: float, message: str) -> bool:
    """Record a running job's progress; False when the job is no longer running (cancelled: its
    project was deleted, or it was handed back), so the worker can stop computing for nothing."""
    with transaction(db) as conn:
        return conn.execute(
            "UPDATE jobs SET progress = ?, message = ?, heartbeat_at = ? WHERE id = ? AND status = 'running'",
            (progress, message, now(), job_id)).rowcount > 0


def check_open(conn: sqlite3.Connection, job_id: int | None) -> None:
    """Refuse (JobCancelled) to publish for a job that is gone, finished, or whose project is gone.

    Call first inside the transaction that publishes the job's result: the check and the rows it
    writes then commit together, so a project deleted meanwhile never receives them. Ids are never
    reused (schema v7), so a job id names one job forever."""
    if job_id is None:
        return
    if conn.execute("""SELECT 1 FROM jobs j JOIN projects p ON p.id = j.project_id
                       WHERE j.id = ? AND j.status IN ('queued', 'running')""", (job_id,)).fetchone() is None:
        raise JobCancelled(f"job {job_id} was cancelled (its project was deleted, or it is no longer open)")


def heartbeat_jobs(db, worker_id: str) -> None:
    with transaction(db) as conn:
        conn.execute("UPDATE jobs SET heartbeat_at = ? WHERE worker = ? AND status = 'running'", (now(), worker_id))


def finish_job(conn: sqlite3.Connection, job_id: int, version_id: int | None = None, message: str = "done",
               result: dict | None = None) -> None:
    """Mark an open job done; JobCancelled (the transaction then rolls back what it published with
    it) when the job is gone or already finished."""
    updated = conn.execute(
        """UPDATE jobs SET status = 'done', progress = 1, message = ?, finished_at = ?, result_version_id = ?,
               result = ? WHERE id = ? AND status IN ('queued', 'running')""",
        (message, now(), version_id, json.dumps(result) if result is not None else None, job_id),
    ).rowcount
    if not updated:
        raise JobCancelled(f"job {job_id} was cancelled (its project was deleted, or it is no longer open)")


def fail_job(db, job_id: int, error: str) -> None:
    """Retry a failed job until MAX_ATTEMPTS, then leave it failed with its error for the UI."""
    reason = error.strip().splitlines()[-1][:200] if error and error.strip() else "unknown error"
    with transaction(db) as conn:
        row = conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:  # cancelled: its project was deleted meanwhile
            return
        attempts = row[0]
        status = JobStatus.FAILED if attempts >= config.MAX_ATTEMPTS else JobStatus.QUEUED
        conn.execute("UPDATE jobs SET status = ?, worker = NULL, error = ?, message = ?, finished_at = ? WHERE id = ?",
                     (status, error, attempt_message(attempts, reason), now(), job_id))


def attempt_message(attempts: int, reason: str) -> str:
    """What a failed attempt means for the job, in words that stay true: retried, or given up."""
    if attempts >= config.MAX_ATTEMPTS:
        return f"failed after {attempts} attempts: {reason}"
    return f"attempt {attempts} of {config.MAX_ATTEMPTS} failed, retrying: {reason}"


WORKER_DIED = "the worker stopped responding"


def requeue_stale_jobs(db, stale_after_s: float | None = None) -> list[int]:
    """Put 'running' jobs whose heartbeat stopped (their worker died) back in the queue, or fail
    them for good after MAX_ATTEMPTS; each message says which."""
    cutoff = now() - (stale_after_s if stale_after_s is not None else config.STALE_AFTER_S)
    with transaction(db) as conn:
        stale = conn.execute(
            "SELECT id, attempts FROM jobs WHERE status = 'running' AND coalesce(heartbeat_at, 0) < ?",
            (cutoff,)).fetchall()
        for job_id, attempts in stale:
            _hand_back(conn, job_id, attempts)
    return [job_id for job_id, _ in stale]


def _hand_back(conn: sqlite3.Connection, job_id: int, attempts: int) -> None:
    """A job whose worker died: queued again with its attempt counted, or failed after the last one."""
    failed = attempts >= config.MAX_ATTEMPTS
    message = (attempt_message(attempts, WORKER_DIED) if failed
               else f"{WORKER_DIED}; re-queued (attempt {attempts} of {config.MAX_ATTEMPTS})")
    conn.execute("""UPDATE jobs SET status = ?, worker = NULL, message = ?, finished_at = ?,
                        error = coalesce(error, 'worker heartbeat went stale') WHERE id = ?""",
                 (JobStatus.FAILED if failed else JobStatus.QUEUED, message, now() if failed else None, job_id))


def requeue_lost(db, job_id: int, reason: str) -> str:
    """A job whose remote compute was lost (a Ray node or actor died): handed back like a job whose
    worker died, the attempt counted, failed for good after MAX_ATTEMPTS. Returns the message."""
    with transaction(db) as conn:
        row = conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:  # cancelled: its project was deleted meanwhile
            return "cancelled"
        attempts = row[0]
        failed = attempts >= config.MAX_ATTEMPTS
        message = (attempt_message(attempts, reason) if failed
                   else f"{reason}; re-queued (attempt {attempts} of {config.MAX_ATTEMPTS})")
        conn.execute("""UPDATE jobs SET status = ?, worker = NULL, message = ?, error = ?, finished_at = ?
                        WHERE id = ? AND status = 'running'""",
                     (JobStatus.FAILED if failed else JobStatus.QUEUED, message, reason, now() if failed else None,
                      job_id))
    return message


def requeue_worker_jobs(db, worker_id: str) -> None:
    """A worker shutting down hands its running jobs back at once instead of waiting to go stale;
    being stopped is not the job's failure, so the attempt is not counted."""
    with transaction(db) as conn:
        conn.execute("""UPDATE jobs SET status = 'queued', worker = NULL, attempts = max(attempts - 1, 0),
                            message = 'the worker was stopped; re-queued'
                        WHERE worker = ? AND status = 'running'""", (worker_id,))


def unresolved_failures(db, project_id: int) -> list[dict]:
    """Failed jobs of the project, newest first, that no later job of the same kind has made good:
    a failed retrain stays in view however many head refits ran after it."""
    return [_decode(r, "params", "result") for r in _rows(db, """
        SELECT * FROM jobs f WHERE f.project_id = ? AND f.status = 'failed'
          AND NOT EXISTS (SELECT 1 FROM jobs d WHERE d.project_id = f.project_id AND d.kind = f.kind
                            AND d.status = 'done' AND d.id > f.id)
        ORDER BY f.id DESC""", (project_id,))]


# ---------------------------------------------------------------- workers


def worker_heartbeat(db, worker_id: str, pid: int, host: str, device: str) -> None:
    t = now()
    with transaction(db) as conn:
        conn.execute(
            """INSERT INTO workers (id, pid, host, device, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at""",
            (worker_id, pid, host, device, t, t),
        )


def live_workers(db, stale_after_s: float | None = None) -> list[dict]:
    cutoff = now() - (stale_after_s if stale_after_s is not None else config.STALE_AFTER_S)
    return _rows(db, "SELECT * FROM workers WHERE heartbeat_at >= ? ORDER BY heartbeat_at DESC", (cutoff,))


def worker_device(db) -> str | None:
    """The device the live worker trains on ('cuda' if any live worker has one), None without a worker.

    The UI asks the store, never torch: the worker may run on another host, and the UI
    process must not load ML libraries."""
    devices = {w["device"] for w in live_workers(db)}
    return "cuda" if "cuda" in devices else next(iter(devices), None)


def db_workers(db) -> list[dict]:
    """Every worker row, live or not."""
    return _rows(db, "SELECT * FROM workers ORDER BY started_at")


def reap_worker(db, worker_id: str) -> None:
    """A worker found dead: its running jobs are handed back (the attempt counts) and its row goes."""
    with transaction(db) as conn:
        for job_id, attempts in conn.execute("SELECT id, attempts FROM jobs WHERE worker = ? AND status = 'running'",
                                             (worker_id,)).fetchall():
            _hand_back(conn, job_id, attempts)
        conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))


def remove_worker(db, worker_id: str) -> None:
    with transaction(db) as conn:
        conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))




# ---------------------------------------------------------------- what jobs asked for and left


def drop_superseded_heads(db, job: dict) -> None:
    """Mark the project's other queued head refits done: `job` (a head refit) uses the latest labels."""
    with transaction(db) as conn:
        conn.execute(
            """UPDATE jobs SET status = 'done', message = 'superseded by job ' || ?, finished_at = ?, progress = 1
               WHERE project_id = ? AND kind = 'head' AND status = 'queued' AND id != ?""",
            (job["id"], now(), job["project_id"], job["id"]),
        )


def last_requested_watermark(db, project_id: int, kind: str) -> int:
    """The newest label watermark a job of this kind was requested for (expression index jobs_watermark)."""
    row = db.conn.execute(
        "SELECT max(json_extract(params, '$.watermark')) FROM jobs WHERE project_id = ? AND kind = ?",
        (project_id, kind),
    ).fetchone()
    return row[0] or 0


def latest_result(db, project_id: int, kind: str) -> dict | None:
    """The newest finished job of this kind that left a result: {"result", "finished_at"}, None if none."""
    row = db.conn.execute("""SELECT result, finished_at FROM jobs WHERE project_id = ? AND kind = ? AND status = 'done'
                             AND result IS NOT NULL ORDER BY id DESC LIMIT 1""", (project_id, kind)).fetchone()
    return None if row is None else {"result": json.loads(row[0]), "finished_at": row[1]}


def export_dirs(conn: sqlite3.Connection) -> list[str]:
    """The directories of the files export jobs wrote (as stored)."""
    paths = []
    for (result,) in conn.execute("SELECT result FROM jobs WHERE kind = 'export' AND result IS NOT NULL"):
        path = (json.loads(result) or {}).get("path")
        if path:
            paths.append(str(Path(path).parent))
    return paths
