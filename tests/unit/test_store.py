import sqlite3
import threading

import pytest

from core import annotate, io, store


def make_project(db, texts=("a text", "another text", "a third text"), classes=("yes", "no")):
    plan = io.plan_import(io.read_table(("text\n" + "\n".join(texts)).encode(), "t.csv"), "text", None, list(classes))
    return io.create_project_from_plan(db, "p", plan)


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


def test_annotations_append_only_undo_and_relabel(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    first = annotate.submit_label(db, pid, example_id, "ann", "yes")
    annotate.submit_label(db, pid, example_id, "ann", "no")  # relabel
    assert [r["label"] for r in store.current_labels(db, pid)] == ["no"]
    assert annotate.undo_last(db, pid, "ann") == example_id  # undo the relabel: back to "yes"
    assert [r["label"] for r in store.current_labels(db, pid)] == ["yes"]
    assert annotate.undo_last(db, pid, "ann") == example_id
    assert store.current_labels(db, pid) == []
    rows = store.annotations(db, pid)
    assert [r["action"] for r in rows] == ["label", "label", "undo", "undo"]
    assert rows[0]["id"] == first and rows[0]["label"] == "yes"  # never overwritten


def test_label_for_unknown_class_or_foreign_text_is_refused(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    with pytest.raises(annotate.AnnotationError, match="not a class"):
        annotate.submit_label(db, pid, example_id, "ann", "maybe")
    with pytest.raises(annotate.AnnotationError, match="not part of this project"):
        annotate.submit_label(db, pid, 10_000, "ann", "yes")
    assert store.annotations(db, pid) == []


def test_leases_keep_two_annotators_apart(db):
    pid = make_project(db)
    first = annotate.next_text(db, pid, "alice")
    second = annotate.next_text(db, pid, "bob")
    assert first.example_id != second.example_id
    assert annotate.next_text(db, pid, "alice").example_id == first.example_id  # her own lease stays hers


def test_refits_scheduled_every_n_labels(db):
    pid = make_project(db, texts=[f"text number {i}" for i in range(12)])
    store.update_settings(db, pid, {"refit_every": 3, "retrain_every": 6})
    for i, example_id in enumerate(store.example_ids(db, pid)[:7]):
        annotate.submit_label(db, pid, example_id, "ann", "yes" if i % 2 else "no")
    kinds = [j["kind"] for j in store.jobs(db, pid) if j["status"] == store.QUEUED]
    assert kinds.count(store.HEAD) == 2 and kinds.count(store.FULL) == 1


def test_claim_is_atomic_across_threads(data_dir):
    db = store.connect()
    pid = make_project(db)
    with store.transaction(db) as conn:
        for _ in range(20):
            store.enqueue(conn, pid, store.FULL)
    claimed: list[int] = []

    def claim_all(name):
        own = store.connect()
        while (job := store.claim_job(own, name, (store.FULL,))) is not None:
            claimed.append(job["id"])

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    full_jobs = [j["id"] for j in store.jobs(db, pid, 100) if j["kind"] == store.FULL]
    assert sorted(claimed) == sorted(full_jobs)  # each job claimed exactly once


def test_head_waits_for_embedding(db):
    pid = make_project(db)
    with store.transaction(db) as conn:
        store.enqueue(conn, pid, store.HEAD)
    assert store.claim_job(db, "w", (store.HEAD,)) is None  # the import's embed job is still queued
    embed = store.claim_job(db, "w", (store.EMBED,))
    with store.transaction(db) as conn:
        store.finish_job(conn, embed["id"])
    assert store.claim_job(db, "w", (store.HEAD,))["kind"] == store.HEAD


def test_stale_running_job_is_requeued_then_failed(db):
    make_project(db)
    job = store.claim_job(db, "dead", (store.EMBED,))
    db.conn.execute("UPDATE jobs SET heartbeat_at = 0 WHERE id = ?", (job["id"],))
    assert store.requeue_stale_jobs(db) == [job["id"]]
    assert store.job(db, job["id"])["status"] == store.QUEUED
    for _ in range(2):
        store.claim_job(db, "dead", (store.EMBED,))
        db.conn.execute("UPDATE jobs SET heartbeat_at = 0 WHERE id = ?", (job["id"],))
        store.requeue_stale_jobs(db)
    assert store.job(db, job["id"])["status"] == store.FAILED


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
                annotate.submit_label(own, pid, example_id, f"ann{offset}", "yes")
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
    other = io.create_project_from_plan(db, "other", io.plan_import(io.read_table(b"text\nx\ny\n", "t.csv"), "text",
                                                                    None, ["yes", "no"]))
    with pytest.raises(store.StoreError, match="already exists"):
        store.rename_project(db, pid, "other")
    store.rename_project(db, pid, "  renamed ")
    assert store.project(db, pid)["name"] == "renamed"
    first = annotate.next_text(db, pid, "ann")
    annotate.submit_label(db, pid, first.example_id, "ann", "yes")
    annotate.undo_last(db, pid, "ann")
    store.delete_project(db, pid)
    assert store.project(db, pid) is None and store.project(db, other) is not None
    for table in ("examples", "annotations", "leases", "jobs", "classes"):
        assert db.conn.execute(f"SELECT count(*) FROM {table} WHERE project_id = ?", (pid,)).fetchone()[0] == 0
    assert db.conn.execute("PRAGMA foreign_key_check").fetchall() == []
