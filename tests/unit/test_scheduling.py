"""Where jobs are made: refit and retrain cadence, coalescing, and what "Train now" does."""
from core import store
from core.labeling import annotate, scheduling
from core.team import auth, projects
from tests.conftest import make_project

TEXTS = [f"text number {i}" for i in range(40)]


def label(db, pid, example_ids):
    for i, example_id in enumerate(example_ids):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), "yes" if i % 2 else "no")


def queued(db, pid, kind):
    return [j for j in store.active_jobs(db, pid) if j["kind"] == kind and j["status"] == store.JobStatus.QUEUED]


def claim_full(db):
    while (embed := store.claim_job(db, "test-worker", (store.JobKind.EMBED,))) is not None:
        with store.transaction(db) as conn:  # a full retrain waits for the pool's embedding to end
            store.finish_job(conn, embed["id"])
    job = store.claim_job(db, "test-worker", (store.JobKind.FULL,))
    assert job is not None
    return job


def test_full_retrain_after_every_batch_when_the_worker_has_a_gpu(db):
    pid = make_project(db, texts=TEXTS)
    store.worker_heartbeat(db, "gpu", 1, "host", "cuda")
    label(db, pid, store.example_ids(db, pid)[:5])  # one batch (refit_every = 5)
    assert len(queued(db, pid, store.JobKind.FULL)) == 1


def test_full_retrain_every_fifty_labels_on_a_cpu_worker(db):
    pid = make_project(db, texts=[f"text number {i}" for i in range(60)])
    store.worker_heartbeat(db, "cpu", 1, "host", "cpu")
    label(db, pid, store.example_ids(db, pid)[:49])
    assert queued(db, pid, store.JobKind.FULL) == []
    label(db, pid, store.example_ids(db, pid)[49:50])
    assert len(queued(db, pid, store.JobKind.FULL)) == 1


def test_batches_during_a_gpu_retrain_are_coalesced_into_one_that_follows(db):
    pid = make_project(db, texts=TEXTS)
    store.worker_heartbeat(db, "gpu", 1, "host", "cuda")
    ids = store.example_ids(db, pid)
    label(db, pid, ids[:5])
    running = claim_full(db)
    label(db, pid, ids[5:10])  # a batch while it runs: one retrain queued to follow
    label(db, pid, ids[10:20])  # two more batches: they join the queued one
    follow = queued(db, pid, store.JobKind.FULL)
    assert len(follow) == 1 and follow[0]["id"] != running["id"]


def test_train_now_while_a_retrain_runs_on_fewer_labels_queues_one_to_follow(db):
    pid = make_project(db, texts=TEXTS)
    ids = store.example_ids(db, pid)
    label(db, pid, ids[:4])
    first = scheduling.train_now(db, auth.local_actor(), pid)
    assert "queued" in first.message
    assert scheduling.train_now(db, auth.local_actor(), pid).job_id == first.job_id  # still queued: it will read every label
    running = claim_full(db)
    assert running["id"] == first.job_id
    assert scheduling.train_now(db, auth.local_actor(), pid).job_id == first.job_id  # nothing new since it started
    label(db, pid, ids[4:6])
    follow = scheduling.train_now(db, auth.local_actor(), pid)
    assert follow.job_id != first.job_id and "follow" in follow.message
    assert store.job(db, follow.job_id)["status"] == store.JobStatus.QUEUED


def test_refits_scheduled_every_n_labels(db):
    pid = make_project(db, texts=[f"text number {i}" for i in range(12)])
    projects.update_settings(db, auth.local_actor(), pid, {"refit_every": 3, "retrain_every": 6})
    for i, example_id in enumerate(store.example_ids(db, pid)[:7]):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), "yes" if i % 2 else "no")
    kinds = [j["kind"] for j in store.jobs(db, pid) if j["status"] == store.JobStatus.QUEUED]
    # two refits were due (at 3 and 6 labels): one waits, never two (issue 20: 18 piled up during embedding)
    assert kinds.count(store.JobKind.HEAD) == 1 and kinds.count(store.JobKind.FULL) == 1
    head = next(j for j in store.jobs(db, pid) if j["kind"] == store.JobKind.HEAD and j["status"] == "queued")
    assert head["params"]["watermark"] == store.max_annotation_id(db, pid) - 1  # it took the newer watermark (6th label)




def test_while_the_pool_is_embedded_a_refit_waits_for_the_first_vectors_and_a_retrain_for_the_end(db):
    """Issue 20: retrains due during the embedding were dropped ("pool not embedded yet")."""
    from tests.unit.test_registry import fake_encoder

    pid = make_project(db, texts=TEXTS)
    projects.update_settings(db, auth.local_actor(), pid, {"retrain_every": 5})
    embed = store.claim_job(db, "w", (store.JobKind.EMBED,))  # the import's embed job, now running
    label(db, pid, store.example_ids(db, pid)[:10])
    assert len(queued(db, pid, store.JobKind.HEAD)) == 1 and len(queued(db, pid, store.JobKind.FULL)) == 1
    assert store.claim_job(db, "w", (store.JobKind.HEAD, store.JobKind.FULL)) is None  # nothing embedded yet
    fake_encoder(db, pid)  # the first chunk is published; the embed job still runs
    assert store.claim_job(db, "w", (store.JobKind.HEAD, store.JobKind.FULL))["kind"] == store.JobKind.HEAD
    assert store.claim_job(db, "w", (store.JobKind.FULL,)) is None  # waits for the whole pool
    with store.transaction(db) as conn:
        store.finish_job(conn, embed["id"])
    assert store.claim_job(db, "w", (store.JobKind.FULL,))["kind"] == store.JobKind.FULL
