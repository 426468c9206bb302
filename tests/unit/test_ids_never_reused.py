"""Issue 19 item 1: deleting a project while its job ran gave the next project the old one's data.

SQLite handed the deleted project's ids (project, texts, jobs) to the next project, so the running
job's `finish_job` and encoder row landed on the new project. Ids are now never reused
(AUTOINCREMENT, schema v7), deleting a project cancels its jobs (their rows go with it), and
every publishing transaction checks first that its job is still open (`store.check_open`)."""
import numpy as np
import pytest

from core import artifacts, store
from core.team import auth, projects
from tests.conftest import make_project


def ids(db, pid):
    examples = store.example_ids(db, pid)
    jobs = [j["id"] for j in store.jobs(db, pid)]
    classes = [c["id"] for c in store.classes(db, pid)]
    return examples, jobs, classes


def test_a_project_made_after_deleting_the_newest_gets_new_ids_everywhere(db):
    a = make_project(db, texts=[f"a text {i}" for i in range(5)], name="A")
    a_examples, a_jobs, a_classes = ids(db, a)
    projects.delete_project(db, auth.local_actor(), a)
    b = make_project(db, texts=[f"b text {i}" for i in range(5)], name="B")
    b_examples, b_jobs, b_classes = ids(db, b)
    assert b != a
    assert not set(b_examples) & set(a_examples)
    assert a_jobs and not set(b_jobs) & set(a_jobs)
    assert not set(b_classes) & set(a_classes)
    # The audit log names A's id for A's events only: nothing of A shows under B.
    assert {e["detail"].get("name") for e in store.audit_log(db) if e["project_id"] == b} == {"B"}


def test_a_job_whose_project_was_deleted_publishes_nothing_and_leaves_no_files(db):
    from core.jobs import training  # the worker's side; loads numpy only until a model is used

    a = make_project(db, texts=[f"a text {i}" for i in range(5)], name="A")
    job = store.claim_job(db, "w", (store.JobKind.EMBED,))
    assert job["project_id"] == a
    projects.delete_project(db, auth.local_actor(), a)  # its jobs go with it: cancelled
    b = make_project(db, texts=[f"b text {i}" for i in range(5)], name="B")
    a_ids = np.arange(1, 6)
    with pytest.raises(store.StoreError):  # the project is gone, or (checked last) the job is
        training.publish_embeddings(db, a, a_ids, np.ones((5, 4), np.float32), 1.0, job["id"])
    assert store.latest_encoder(db, b) is None and store.latest_encoder(db, a) is None
    [b_job] = store.jobs(db, b)
    assert b_job["status"] == store.JobStatus.QUEUED and b_job["id"] != job["id"]
    encoders = artifacts.project_dir(a) / "encoders"
    assert not encoders.exists() or not any(encoders.iterdir())


def test_the_worker_stops_a_cancelled_job_at_its_next_progress_report_and_fails_nothing(db, monkeypatch):
    from core.jobs import worker

    a = make_project(db, texts=[f"a text {i}" for i in range(5)], name="A")
    job = store.claim_job(db, "w", (store.JobKind.EMBED,))
    reached = []

    def embed(db_, job_, progress):
        progress(0.1, "embedding")
        projects.delete_project(db, auth.local_actor(), a)
        artifacts.project_dir(a).mkdir(parents=True, exist_ok=True)  # what it had written so far
        progress(0.5, "embedding")  # raises: the job is gone
        reached.append("after")

    monkeypatch.setitem(worker.JOBS, store.JobKind.EMBED, worker.JobSpec(worker.EMBED, embed))
    worker.run_job(db, job)  # no exception: a cancelled job is not a failure
    assert reached == []
    assert store.job(db, job["id"]) is None and not artifacts.project_dir(a).exists()


def test_finishing_a_job_twice_or_after_it_is_gone_is_refused(db):
    pid = make_project(db)
    [job] = store.jobs(db, pid)
    with store.transaction(db) as conn:
        store.finish_job(conn, job["id"])
    with pytest.raises(store.JobCancelled), store.transaction(db) as conn:
        store.finish_job(conn, job["id"])
    store.fail_job(db, 10_000, "boom")  # a vanished job: nothing to record, no error
