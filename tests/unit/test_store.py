import sqlite3
import threading

import pytest

from core import store
from core.files import imports
from core.labeling import annotate
from core.team import auth


def make_project(db, texts=("a text", "another text", "a third text"), classes=("yes", "no")):
    plan = imports.plan_import(imports.read_table(("text\n" + "\n".join(texts)).encode(), "t.csv"), "text", None, list(classes))
    return imports.create_project_from_plan(db, auth.local_actor(), "p", plan)


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
    first = annotate.submit_label(db, auth.local_actor("ann"), pid, example_id, "yes")
    annotate.submit_label(db, auth.local_actor("ann"), pid, example_id, "no")  # relabel
    assert [r["label"] for r in store.current_labels(db, pid)] == ["no"]
    assert annotate.undo_last(db, auth.local_actor("ann"), pid) == example_id  # undo the relabel: back to "yes"
    assert [r["label"] for r in store.current_labels(db, pid)] == ["yes"]
    assert annotate.undo_last(db, auth.local_actor("ann"), pid) == example_id
    assert store.current_labels(db, pid) == []
    rows = store.annotations(db, pid)
    assert [r["action"] for r in rows] == ["label", "label", "undo", "undo"]
    assert rows[0]["id"] == first and rows[0]["label"] == "yes"  # never overwritten


def test_label_for_unknown_class_or_foreign_text_is_refused(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    with pytest.raises(annotate.AnnotationError, match="not a class"):
        annotate.submit_label(db, auth.local_actor("ann"), pid, example_id, "maybe")
    with pytest.raises(annotate.AnnotationError, match="not part of this project"):
        annotate.submit_label(db, auth.local_actor("ann"), pid, 10_000, "yes")
    assert store.annotations(db, pid) == []


def test_leases_keep_two_annotators_apart(db):
    pid = make_project(db)
    first = annotate.next_text(db, auth.local_actor("alice"), pid)
    second = annotate.next_text(db, auth.local_actor("bob"), pid)
    assert first.example_id != second.example_id
    assert annotate.next_text(db, auth.local_actor("alice"), pid).example_id == first.example_id  # her own lease stays hers


def test_refits_scheduled_every_n_labels(db):
    pid = make_project(db, texts=[f"text number {i}" for i in range(12)])
    store.update_settings(db, auth.local_actor(), pid, {"refit_every": 3, "retrain_every": 6})
    for i, example_id in enumerate(store.example_ids(db, pid)[:7]):
        annotate.submit_label(db, auth.local_actor("ann"), pid, example_id, "yes" if i % 2 else "no")
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
                annotate.submit_label(own, auth.local_actor(f"ann{offset}"), pid, example_id, "yes")
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
    other = imports.create_project_from_plan(db, auth.local_actor(), "other", imports.plan_import(imports.read_table(b"text\nx\ny\n", "t.csv"), "text",
                                                                    None, ["yes", "no"]))
    with pytest.raises(store.StoreError, match="already exists"):
        store.rename_project(db, auth.local_actor(), pid, "other")
    store.rename_project(db, auth.local_actor(), pid, "  renamed ")
    assert store.project(db, pid)["name"] == "renamed"
    first = annotate.next_text(db, auth.local_actor("ann"), pid)
    annotate.submit_label(db, auth.local_actor("ann"), pid, first.example_id, "yes")
    annotate.undo_last(db, auth.local_actor("ann"), pid)
    store.delete_project(db, auth.local_actor(), pid)
    assert store.project(db, pid) is None and store.project(db, other) is not None
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


def test_next_text_claims_atomically_when_another_annotator_claims_in_between(db, monkeypatch):
    """Bob claims a text after Alice's next_text started but before its transaction: they must still differ."""
    pid = make_project(db)
    real_transaction = store.transaction
    bob_got = []

    def bob_claims_first(conn_db):
        if not bob_got:
            bob_got.append(None)
            worker = threading.Thread(target=lambda: bob_got.append(annotate.next_text(store.connect(), auth.local_actor("bob"), pid)))
            worker.start()
            worker.join()
        return real_transaction(conn_db)

    monkeypatch.setattr(store, "transaction", bob_claims_first)
    alice = annotate.next_text(db, auth.local_actor("alice"), pid)
    bob = bob_got[1]
    assert alice.example_id != bob.example_id
    assert lease_rows(db, pid) == {alice.example_id: "alice", bob.example_id: "bob"}


def test_label_refused_when_someone_else_labeled_the_text(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    first = annotate.submit_label(db, auth.local_actor("alice"), pid, example_id, "yes")
    with pytest.raises(annotate.AnnotationError, match="Someone else labeled this text"):
        annotate.submit_label(db, auth.local_actor("bob"), pid, example_id, "no")
    with pytest.raises(annotate.AnnotationError, match="Someone else labeled this text"):
        annotate.skip(db, auth.local_actor("bob"), pid, example_id)
    assert [(r["annotator"], r["label"], r["annotation_id"]) for r in store.current_labels(db, pid)] == \
        [("alice", "yes", first)]
    assert len(store.annotations(db, pid)) == 1


def test_label_refused_while_another_annotator_holds_the_lease(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    with pytest.raises(annotate.AnnotationError, match="Someone else"):
        annotate.submit_label(db, auth.local_actor("bob"), pid, shown.example_id, "no")
    with pytest.raises(annotate.AnnotationError, match="Someone else"):
        annotate.skip(db, auth.local_actor("bob"), pid, shown.example_id)
    assert store.annotations(db, pid) == []
    annotate.submit_label(db, auth.local_actor("alice"), pid, shown.example_id, "yes")  # the lease holder may label it
    assert [r["annotator"] for r in store.current_labels(db, pid)] == ["alice"]


def test_label_allowed_after_the_other_lease_expired(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    db.conn.execute("UPDATE leases SET expires_at = ?", (store.now() - 1,))
    annotate.submit_label(db, auth.local_actor("bob"), pid, shown.example_id, "no")
    with pytest.raises(annotate.AnnotationError, match="Someone else labeled this text"):
        annotate.submit_label(db, auth.local_actor("alice"), pid, shown.example_id, "yes")  # too late: bob's label stands
    assert [(r["annotator"], r["label"]) for r in store.current_labels(db, pid)] == [("bob", "no")]


def test_undo_releases_the_text_back_to_its_annotator_only(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    annotate.submit_label(db, auth.local_actor("alice"), pid, shown.example_id, "yes")
    again = annotate.undo_and_show(db, auth.local_actor("alice"), pid)
    assert again.example_id == shown.example_id and again.text == shown.text and again.strategy == "undo"
    assert lease_rows(db, pid)[shown.example_id] == "alice"  # leased in the undo's own transaction
    assert annotate.next_text(db, auth.local_actor("bob"), pid).example_id != shown.example_id
    annotate.submit_label(db, auth.local_actor("alice"), pid, shown.example_id, "no")  # alice labels it again
    assert [(r["annotator"], r["label"]) for r in store.current_labels(db, pid)] == [("alice", "no")]


def test_undo_last_leases_the_text_in_the_same_transaction(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    annotate.submit_label(db, auth.local_actor("alice"), pid, example_id, "yes")
    assert annotate.undo_last(db, auth.local_actor("alice"), pid) == example_id
    assert lease_rows(db, pid) == {example_id: "alice"}


def test_undo_of_a_skip_is_refused_while_someone_else_reads_the_text(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    annotate.skip(db, auth.local_actor("alice"), pid, shown.example_id)
    db.conn.execute("DELETE FROM leases")
    with store.transaction(db) as conn:
        store.lease(conn, pid, shown.example_id, "bob", 600)
    with pytest.raises(annotate.AnnotationError, match="Someone else"):
        annotate.undo_and_show(db, auth.local_actor("alice"), pid)
    assert [r["action"] for r in store.annotations(db, pid)] == ["skip"]  # nothing undone
    assert lease_rows(db, pid) == {shown.example_id: "bob"}


def test_show_example_refuses_a_text_someone_else_is_reading(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    with pytest.raises(annotate.AnnotationError, match="Someone else"):
        annotate.show_example(db, auth.local_actor("bob"), pid, shown.example_id, "keyword search")
    assert lease_rows(db, pid) == {shown.example_id: "alice"}


def test_skipped_texts_come_back_after_the_rest_oldest_skip_first(db):
    pid = make_project(db)
    order = []
    for _ in range(3):
        shown = annotate.next_text(db, auth.local_actor("alice"), pid)
        order.append(shown.example_id)
        annotate.skip(db, auth.local_actor("alice"), pid, shown.example_id)
    assert len(set(order)) == 3  # unskipped texts first
    again = annotate.next_text(db, auth.local_actor("alice"), pid)
    assert again is not None and again.example_id == order[0]
    annotate.skip(db, auth.local_actor("alice"), pid, again.example_id)  # skipped again: it goes to the back
    assert annotate.next_text(db, auth.local_actor("alice"), pid).example_id == order[1]
    annotate.submit_label(db, auth.local_actor("alice"), pid, order[1], "yes")
    assert annotate.next_text(db, auth.local_actor("alice"), pid).example_id == order[2]
    annotate.submit_label(db, auth.local_actor("alice"), pid, order[2], "yes")
    assert annotate.next_text(db, auth.local_actor("alice"), pid).example_id == order[0]
    annotate.submit_label(db, auth.local_actor("alice"), pid, order[0], "no")
    assert annotate.next_text(db, auth.local_actor("alice"), pid) is None


def test_skipped_texts_of_one_annotator_are_offered_to_others_first(db):
    pid = make_project(db, texts=("only text",))
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    annotate.skip(db, auth.local_actor("alice"), pid, shown.example_id)
    assert annotate.next_text(db, auth.local_actor("bob"), pid).example_id == shown.example_id
    assert annotate.next_text(db, auth.local_actor("alice"), pid) is None  # bob is reading it now


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
            store.add_annotation(conn, pid, example_id, f"ann{i % 7}", store.LABEL, label="yes")
            if i % 5 == 4:
                store.enqueue(conn, pid, store.HEAD, {"watermark": i})

    def label_skip_undo():
        shown = annotate.next_text(db, auth.local_actor("alice"), pid)
        annotate.submit_label(db, auth.local_actor("alice"), pid, shown.example_id, "no")
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


def test_lock_errors_reach_the_caller_as_a_try_again_message(data_dir, monkeypatch):
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 50)
    db = store.connect()
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    annotate.submit_label(db, auth.local_actor("alice"), pid, shown.example_id, "yes")
    other = sqlite3.connect(str(data_dir / "sieve.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # someone outside Sieve's own transactions holds the write lock
    try:
        for call in (lambda: annotate.next_text(db, auth.local_actor("alice"), pid),
                     lambda: annotate.submit_label(db, auth.local_actor("alice"), pid, shown.example_id, "no"),
                     lambda: annotate.skip(db, auth.local_actor("alice"), pid, shown.example_id),
                     lambda: annotate.undo_last(db, auth.local_actor("alice"), pid),
                     lambda: annotate.show_example(db, auth.local_actor("alice"), pid, shown.example_id, "search")):
            with pytest.raises(annotate.AnnotationError, match="try again"):
                call()
    finally:
        other.execute("ROLLBACK")
    assert annotate.undo_last(db, auth.local_actor("alice"), pid) == shown.example_id  # and it works again once the lock is free


def claim_work_after_labeling(db, n_labeled: int) -> int:
    """Write-transaction work of 20 claims (by new annotators) after `n_labeled` texts were labeled
    through next_text, before any embedding: they all came from the same shuffled order."""
    pid = make_project(db, texts=[f"text number {i}" for i in range(1000)])
    for _ in range(n_labeled):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.next_text(db, auth.local_actor("ann"), pid).example_id, "yes")
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
                           (pid, store.POOL)).fetchall()
    detail = " ".join(row[-1] for row in plan)
    assert "COVERING INDEX" in detail and "SCAN examples" not in detail, detail
