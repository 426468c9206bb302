"""Finding 6: a job's message tells the truth about its attempts, and the UI shows a failure."""
from core import config, store
from tests.conftest import make_project


def kill_worker_of(db, job_id: int) -> None:
    db.conn.execute("UPDATE jobs SET heartbeat_at = 0 WHERE id = ?", (job_id,))
    store.requeue_stale_jobs(db)


def test_a_stale_job_says_re_queued_only_while_it_is(db):
    make_project(db)
    job = store.claim_job(db, "dead", (store.JobKind.EMBED,))
    kill_worker_of(db, job["id"])
    row = store.job(db, job["id"])
    assert row["status"] == store.JobStatus.QUEUED and "re-queued" in row["message"]
    assert f"attempt 1 of {config.MAX_ATTEMPTS}" in row["message"]
    for _ in range(config.MAX_ATTEMPTS - 1):
        store.claim_job(db, "dead", (store.JobKind.EMBED,))
        kill_worker_of(db, job["id"])
    row = store.job(db, job["id"])
    assert row["status"] == store.JobStatus.FAILED
    assert row["message"] == f"failed after {config.MAX_ATTEMPTS} attempts: the worker stopped responding"
    assert "re-queued" not in row["message"]


def test_a_job_that_raises_says_whether_it_will_be_retried(db):
    make_project(db)
    for attempt in range(1, config.MAX_ATTEMPTS + 1):
        job = store.claim_job(db, "w", (store.JobKind.EMBED,))
        store.fail_job(db, job["id"], "Traceback...\nValueError: boom")
        row = store.job(db, job["id"])
        if attempt < config.MAX_ATTEMPTS:
            assert row["status"] == store.JobStatus.QUEUED
            assert row["message"] == f"attempt {attempt} of {config.MAX_ATTEMPTS} failed, retrying: ValueError: boom"
    assert row["status"] == store.JobStatus.FAILED
    assert row["message"] == f"failed after {config.MAX_ATTEMPTS} attempts: ValueError: boom"


def test_a_worker_that_stops_cleanly_does_not_use_up_an_attempt(db):
    make_project(db)
    job = store.claim_job(db, "w", (store.JobKind.EMBED,))
    store.requeue_worker_jobs(db, "w")
    row = store.job(db, job["id"])
    assert row["status"] == store.JobStatus.QUEUED and row["attempts"] == 0
    assert row["message"] == "the worker was stopped; re-queued"


def test_a_failed_retrain_stays_visible_behind_later_jobs(db):
    """A killed "Train now" must not vanish from the sidebar behind the head refits that follow it."""
    pid = make_project(db)
    with store.transaction(db) as conn:
        full = store.enqueue(conn, pid, store.JobKind.FULL)
        conn.execute("UPDATE jobs SET status = 'failed', message = 'failed after 3 attempts: x' WHERE id = ?", (full,))
        for _ in range(10):
            store.finish_job(conn, store.enqueue(conn, pid, store.JobKind.HEAD))
    assert [j["id"] for j in store.unresolved_failures(db, pid)] == [full]
    with store.transaction(db) as conn:  # a later retrain that succeeded resolves it
        store.finish_job(conn, store.enqueue(conn, pid, store.JobKind.FULL))
    assert store.unresolved_failures(db, pid) == []


def test_a_job_whose_ray_compute_was_lost_is_re_queued_then_failed_like_a_dead_worker(db):
    """Issue 23: a lost Ray node or actor hands the job back with its attempt counted."""
    make_project(db)
    reason = "a Ray node or actor was lost"
    for attempt in range(1, config.MAX_ATTEMPTS + 1):
        job = store.claim_job(db, "w", (store.JobKind.EMBED,))
        message = store.requeue_lost(db, job["id"], reason)
        row = store.job(db, job["id"])
        assert row["message"] == message and row["worker"] is None
        if attempt < config.MAX_ATTEMPTS:
            assert row["status"] == store.JobStatus.QUEUED
            assert message == f"{reason}; re-queued (attempt {attempt} of {config.MAX_ATTEMPTS})"
    assert row["status"] == store.JobStatus.FAILED
    assert row["message"] == f"failed after {config.MAX_ATTEMPTS} attempts: {reason}"
