"""Job kinds in words: names, time left, one line per running job and per kind of queued job."""
from core import store
from core.jobs import kinds


def job(kind=store.JobKind.HEAD, status=store.JobStatus.QUEUED, progress=0.0, started_at=None, message="", params=None):
    return {"id": 1, "kind": kind, "status": status, "progress": progress, "started_at": started_at,
            "message": message, "params": params or {}, "attempts": 1}


def test_time_left_follows_progress_and_says_nothing_too_early():
    assert kinds.time_left(job(status=store.JobStatus.RUNNING, progress=0.25, started_at=100.0), now=160.0) == 180.0
    assert kinds.time_left(job(status=store.JobStatus.RUNNING, progress=0.01, started_at=100.0), now=160.0) is None
    assert kinds.time_left(job(status=store.JobStatus.QUEUED), now=160.0) is None
    assert [kinds.duration_words(s) for s in (3, 42, 150, 3900)] == ["about 5 s", "about 40 s", "about 2 min",
                                                                     "about 1 h 5 min"]


def test_status_lines_group_identical_queued_jobs_and_keep_running_ones_apart():
    jobs = [job(store.JobKind.FULL, store.JobStatus.RUNNING, 0.5, started_at=0.0, message="step 40 of 80"),
            *[job() for _ in range(18)], job(store.JobKind.EXPORT, params={"format": "hf-datasets"}), job(store.JobKind.EMBED)]
    lines = kinds.status_lines(jobs, now=60.0)
    assert [(line.running, line.text) for line in lines] == [
        (True, "full retrain: step 40 of 80 · about 1 min left"),
        (False, "queued: quick model refit × 18"),
        (False, "queued: dataset export"),  # an export row stored the old way
        (False, "queued: embedding the texts")]
    assert lines[0].fraction == 0.5
    own = job(store.JobKind.FULL, store.JobStatus.RUNNING, 0.5, started_at=0.0, message="training step 12 of 80, about 40 s left")
    assert kinds.status_line(own, now=60.0).text == "full retrain: training step 12 of 80, about 40 s left"


def test_job_rows_name_the_kind():
    assert kinds.job_rows([job(store.JobKind.QUALITY)])[0]["job"] == "label analysis"


def test_the_worker_runs_a_job_by_its_kinds_handler_and_fails_an_unknown_kind(db, monkeypatch):
    from core.jobs import worker
    from tests.conftest import make_project

    pid = make_project(db)
    ran = []
    monkeypatch.setitem(worker.JOBS, store.JobKind.QUALITY, worker.JobSpec(worker.EMBED, lambda db_, job_, progress:
                                                                     ran.append(job_["id"])))
    with store.transaction(db) as conn:
        analysis = store.enqueue(conn, pid, store.JobKind.QUALITY)
        unknown = store.enqueue(conn, pid, "telepathy")
    worker.run_job(db, store.claim_job(db, "test", (store.JobKind.QUALITY,)))
    assert ran == [analysis]
    worker.run_job(db, store.claim_job(db, "test", ("telepathy",)))
    assert "unknown job kind 'telepathy'" in store.job(db, unknown)["message"]


def test_every_job_kind_has_one_handler_one_lane_and_a_readable_name():
    from core.jobs import worker

    assert set(worker.JOBS) == set(kinds.NAMES)
    lanes = [kind for kinds_ in worker.LANES.values() for kind in kinds_]
    assert sorted(lanes) == sorted(worker.JOBS)  # every kind in exactly one lane
    assert worker.LANES["fast"] == (store.JobKind.HEAD,) and worker.LANES["slow"] == (store.JobKind.FULL,)
    assert all(name and name != kind for kind, name in kinds.NAMES.items())
    assert kinds.name(store.JobKind.HEAD) == "quick model refit" and kinds.name("no-such-kind") == "background job"
