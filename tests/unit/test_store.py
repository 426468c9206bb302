import os
import sqlite3
import threading

import pytest

from core import artifacts, store
from core.files import imports
from core.labeling import annotate
from core.team import auth, projects
from tests.conftest import make_project


def test_wal_and_schema_version(db):
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == store.SCHEMA_VERSION
    assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] == store.BUSY_TIMEOUT_MS


def test_transaction_rolls_back_everything(db):
    with pytest.raises(RuntimeError):
        with store.transaction(db) as conn:
            store.create_project(conn, "half", [{"name": "a"}, {"name": "b"}])
            raise RuntimeError("crash mid-way")
    assert store.projects(db) == []
    assert db.conn.execute("SELECT count(*) FROM classes").fetchone()[0] == 0


def test_claim_is_atomic_across_threads(data_dir):
    db = store.connect()
    pid = make_project(db)
    embed = store.claim_job(db, "w", (store.JobKind.EMBED,))
    with store.transaction(db) as conn:
        store.finish_job(conn, embed["id"])  # a full retrain waits for the pool's embedding (issue 20)
        for _ in range(20):
            store.enqueue(conn, pid, store.JobKind.FULL)
    claimed: list[int] = []

    def claim_all(name):
        own = store.connect()
        while (job := store.claim_job(own, name, (store.JobKind.FULL,))) is not None:
            claimed.append(job["id"])

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    full_jobs = [j["id"] for j in store.jobs(db, pid, 100) if j["kind"] == store.JobKind.FULL]
    assert sorted(claimed) == sorted(full_jobs)  # each job claimed exactly once


def test_head_waits_for_embedding(db):
    pid = make_project(db)
    with store.transaction(db) as conn:
        store.enqueue(conn, pid, store.JobKind.HEAD)
    assert store.claim_job(db, "w", (store.JobKind.HEAD,)) is None  # the import's embed job is still queued
    embed = store.claim_job(db, "w", (store.JobKind.EMBED,))
    with store.transaction(db) as conn:
        store.finish_job(conn, embed["id"])
    assert store.claim_job(db, "w", (store.JobKind.HEAD,))["kind"] == store.JobKind.HEAD


def test_stale_running_job_is_requeued_then_failed(db):
    make_project(db)
    job = store.claim_job(db, "dead", (store.JobKind.EMBED,))
    db.conn.execute("UPDATE jobs SET heartbeat_at = 0 WHERE id = ?", (job["id"],))
    assert store.requeue_stale_jobs(db) == [job["id"]]
    assert store.job(db, job["id"])["status"] == store.JobStatus.QUEUED
    for _ in range(2):
        store.claim_job(db, "dead", (store.JobKind.EMBED,))
        db.conn.execute("UPDATE jobs SET heartbeat_at = 0 WHERE id = ?", (job["id"],))
        store.requeue_stale_jobs(db)
    assert store.job(db, job["id"])["status"] == store.JobStatus.FAILED


def test_keyword_search_escapes_wildcards(db):
    pid = make_project(db, texts=["100% sure", "1000 things", "under_score"])
    assert [r["text"] for r in store.search_examples(db, pid, "100%")] == ["100% sure"]
    assert [r["text"] for r in store.search_examples(db, pid, "_")] == ["under_score"]


def test_concurrent_writers_lose_nothing(data_dir):
    db = store.connect()
    pid = make_project(db, texts=[f"text {i}" for i in range(200)])
    ids = store.example_ids(db, pid)
    errors: list[Exception] = []

    def label(offset):
        own = store.connect()
        try:
            for example_id in ids[offset::4]:
                annotate.submit_label(own, auth.local_actor(f"ann{offset}"), pid, annotate.NextText.direct(example_id), "yes")
        except (sqlite3.Error, ValueError) as err:
            errors.append(err)

    threads = [threading.Thread(target=label, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.label_count(db, pid) == 200


def test_rename_and_delete_a_project(db):
    pid = make_project(db)
    other = make_project(db, ["x", "y"], name="other")
    with pytest.raises(store.StoreError, match="already exists"):
        projects.rename_project(db, auth.local_actor(), pid, "other")
    projects.rename_project(db, auth.local_actor(), pid, "  renamed ")
    assert store.project(db, pid)["name"] == "renamed"
    first = annotate.next_text(db, auth.local_actor("ann"), pid)
    annotate.submit_label(db, auth.local_actor("ann"), pid, first, "yes")
    annotate.undo_last(db, auth.local_actor("ann"), pid)
    (artifacts.project_dir(pid) / "encoders").mkdir(parents=True)
    (artifacts.project_dir(other) / "encoders").mkdir(parents=True)
    projects.delete_project(db, auth.local_actor(), pid)
    assert store.project(db, pid) is None and store.project(db, other) is not None
    assert not artifacts.project_dir(pid).exists() and artifacts.project_dir(other).exists()
    assert auth.audit_log(db)[0]["action"] == "delete project" and auth.audit_log(db)[0]["detail"] == {"name": "renamed"}
    for table in ("examples", "annotations", "leases", "jobs", "classes"):
        assert db.conn.execute(f"SELECT count(*) FROM {table} WHERE project_id = ?", (pid,)).fetchone()[0] == 0
    assert db.conn.execute("PRAGMA foreign_key_check").fetchall() == []


# ---------------------------------------------------------------- leases and claims under concurrency


def lease_rows(db, pid):
    return {r["example_id"]: r["annotator"] for r in db.query("SELECT * FROM leases WHERE project_id = ?", (pid,))}


def test_lease_never_takes_over_a_live_lease_but_takes_an_expired_one(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    with store.transaction(db) as conn:
        assert store.lease(conn, pid, example_id, "alice", 600)
        assert not store.lease(conn, pid, example_id, "bob", 600)  # alice is still reading it
        assert store.lease(conn, pid, example_id, "alice", 600)  # renewing her own lease is fine
    assert lease_rows(db, pid) == {example_id: "alice"}
    with store.transaction(db) as conn:
        conn.execute("UPDATE leases SET expires_at = ? WHERE example_id = ?", (store.now() - 1, example_id))
        assert store.lease(conn, pid, example_id, "bob", 600)  # alice's lease expired: bob may take it
    assert lease_rows(db, pid) == {example_id: "bob"}


# ---------------------------------------------------------------- lock waits stay short


def work_inside_write_transactions(db, action) -> int:
    """SQLite VM instructions (in thousands) run between BEGIN IMMEDIATE and COMMIT while `action` runs.

    That is the time other writers wait, measured without a clock (stable on a busy machine)."""
    inside, steps = [False], [0]

    def trace(sql):
        if sql.startswith("BEGIN IMMEDIATE"):
            inside[0] = True
        elif sql in ("COMMIT", "ROLLBACK"):
            inside[0] = False

    def count():
        steps[0] += inside[0]
        return 0

    db.conn.set_trace_callback(trace)
    db.conn.set_progress_handler(count, 1000)
    try:
        action()
    finally:
        db.conn.set_trace_callback(None)
        db.conn.set_progress_handler(None, 0)
    return steps[0]


def labeling_work(db, n_history: int) -> int:
    """Write-transaction work of one next_text + submit_label + skip + undo in a project with `n_history`
    earlier labels (by others) and the refit jobs they triggered."""
    pid = make_project(db, texts=[f"text number {i}" for i in range(n_history + 20)])
    ids = store.example_ids(db, pid)
    with store.transaction(db) as conn:
        for i, example_id in enumerate(ids[:n_history]):
            store.add_annotation(conn, pid, example_id, f"ann{i % 7}", store.Action.LABEL, label="yes")
            if i % 5 == 4:
                store.enqueue(conn, pid, store.JobKind.HEAD, {"watermark": i})

    def label_skip_undo():
        shown = annotate.next_text(db, auth.local_actor("alice"), pid)
        annotate.submit_label(db, auth.local_actor("alice"), pid, shown, "no")
        shown = annotate.next_text(db, auth.local_actor("alice"), pid)
        annotate.skip(db, auth.local_actor("alice"), pid, shown.example_id)
        annotate.undo_last(db, auth.local_actor("alice"), pid)

    return work_inside_write_transactions(db, label_skip_undo)


def test_write_transactions_do_not_grow_with_the_history(tmp_path, monkeypatch):
    """Every annotator waits for the others' write transactions, so their work must not scan the
    project's annotations or jobs: 3000 earlier labels may cost little more than 30."""
    work = {}
    for n in (30, 3000):
        monkeypatch.setenv("SIEVE_DATA_DIR", str(tmp_path / str(n)))
        work[n] = labeling_work(store.connect(), n)
    assert work[3000] <= 2 * work[30] + 20, work


def claim_work_after_labeling(db, n_labeled: int) -> int:
    """Write-transaction work of 20 claims (by new annotators) after `n_labeled` texts were labeled
    through next_text, before any embedding: they all came from the same shuffled order."""
    pid = make_project(db, texts=[f"text number {i}" for i in range(1000)])
    for _ in range(n_labeled):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.next_text(db, auth.local_actor("ann"), pid), "yes")
    return work_inside_write_transactions(db, lambda: [annotate.next_text(db, auth.local_actor(f"new{i}"), pid) for i in range(20)])


def test_claims_outside_the_queue_do_not_walk_over_labeled_texts(tmp_path, monkeypatch):
    work = {}
    for n in (30, 600):
        monkeypatch.setenv("SIEVE_DATA_DIR", str(tmp_path / str(n)))
        work[n] = claim_work_after_labeling(store.connect(), n)
    assert work[600] <= 2 * work[30] + 20, work


def test_counting_texts_by_split_reads_an_index_not_the_table(db):
    """Issue 14 finding 9: the Annotate page's progress counted examples by split with a scan of
    the whole table (texts included): 665 ms a rerun on a 200k pool. An index answers it now."""
    pid = make_project(db)
    plan = db.conn.execute("EXPLAIN QUERY PLAN SELECT count(*) FROM examples WHERE project_id = ? AND split = ?",
                           (pid, store.Split.POOL)).fetchall()
    detail = " ".join(row[-1] for row in plan)
    assert "COVERING INDEX" in detail and "SCAN examples" not in detail, detail


def test_the_projects_table_is_one_query_with_the_counts(db):
    pid = make_project(db)
    other = imports.create_project_from_plan(db, auth.local_actor(), "other", imports.plan_import(
        imports.read_table(b"text\nx\ny\nz\nw\n", "t.csv"), "text", None, ["b", "a", "c"]))
    shown = annotate.next_text(db, auth.local_actor("ann"), pid)
    annotate.submit_label(db, auth.local_actor("ann"), pid, shown, "yes")
    second = annotate.next_text(db, auth.local_actor("ann"), pid)
    annotate.submit_label(db, auth.local_actor("ann"), pid, second, "no")
    annotate.undo_last(db, auth.local_actor("ann"), pid)
    statements = []
    db.conn.set_trace_callback(statements.append)
    table = store.project_table(db)
    db.conn.set_trace_callback(None)
    assert len(statements) == 1, statements
    assert table == [{"id": p["id"], "name": p["name"], "texts": store.example_count(db, p["id"]),
                      "labels": store.label_count(db, p["id"]), "classes": store.class_names(db, p["id"])}
                     for p in store.projects(db)]
    assert [(r["labels"], r["classes"]) for r in table] == [(1, ["yes", "no"]), (0, ["b", "a", "c"])]
    assert other == table[1]["id"]


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc/self/fd (Linux)")
def test_short_lived_threads_leave_no_descriptor_open(db):
    """Streamlit runs each rerun in a new thread; each connects, writes and ends. Nothing of it may stay open
    (the writer-lock descriptor used to leak: with a 256 limit the 181st thread failed)."""
    import gc

    pid = make_project(db)
    errors = []

    def rerun(i):
        try:
            own = store.connect()
            with store.transaction(own) as conn:
                conn.execute("UPDATE projects SET guidelines = ? WHERE id = ?", (f"rerun {i}", pid))
        except Exception as exc:  # surfaced below: a thread's exception would otherwise only be printed
            errors.append(exc)

    gc.collect()
    before = _open_descriptors()
    for i in range(300):
        thread = threading.Thread(target=rerun, args=(i,))
        thread.start()
        thread.join()
    gc.collect()
    assert errors == []
    assert _open_descriptors() <= before + 3, f"{_open_descriptors() - before} descriptors left open by 300 threads"
    assert store.project(db, pid)["guidelines"] == "rerun 299"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc/self/fd (Linux)")
def test_disconnect_closes_the_connection_and_its_lock_now(db):
    fd = db.writer_lock_fd
    assert os.path.exists(f"/proc/self/fd/{fd}")
    store.disconnect()
    assert not os.path.exists(f"/proc/self/fd/{fd}") or os.readlink(f"/proc/self/fd/{fd}") != db_lock_path()
    with pytest.raises(sqlite3.ProgrammingError):
        db.conn.execute("SELECT 1")
    fresh = store.connect()
    assert fresh is not db and fresh.conn.execute("SELECT count(*) FROM projects").fetchone()[0] == 0


def db_lock_path() -> str:
    from core import config

    return str(config.db_path()) + ".writer-lock"
