"""Labeling while the pool is embedded, with the real worker process (issue 20, item 5).

A new user's trial: 426 s of "No model yet" for 8,057 texts, the retrains due at 50 and 100
labels dropped ("pool not embedded yet"), and 18 queued refits piled up. Now the embed job
publishes the texts met first first, a head fits on the embedded labeled texts meanwhile, at
most one refit waits per project, the due retrain runs when the embedding ends, and the page
says what is happening with the time left."""
import time

import pytest

from core import store
from core.labeling import annotate
from core.settings import ProjectSettings
from core.team import auth
from tests.conftest import dataset, make_project, stop_worker, wait_for
from tests.integration.test_worker_process import start_worker

pytestmark = pytest.mark.integration
N = 1000


def queued_heads(db, pid) -> int:
    return sum(j["kind"] == store.JobKind.HEAD and j["status"] == store.JobStatus.QUEUED
               for j in store.active_jobs(db, pid))


def test_label_while_embedding_first_model_early_one_refit_waiting_and_retrain_kept(db, data_dir):
    frame = dataset("mr", "train", N)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = make_project(db, frame[["text"]], ["positive", "negative"], name="mr", eval_fraction=0.05,
                       settings=ProjectSettings(retrain_every=10,
                                                family_args={"setfit": {"max_steps": 2, "batch_size": 8}}))
    embed_job = next(j for j in store.active_jobs(db, pid) if j["kind"] == store.JobKind.EMBED)
    actor = auth.local_actor("ann")
    statuses, most_waiting = [], 0
    process = start_worker(data_dir)
    try:
        wait_for(lambda: store.job(db, embed_job["id"])["status"] == store.JobStatus.RUNNING, 120, "the embed job to start")
        for _ in range(20):  # label at once, while the texts are being embedded
            shown = annotate.next_text(db, actor, pid, annotate.choose_split(db, pid, "ann"))
            annotate.submit_label(db, actor, pid, shown, gold[shown.text])
            statuses.append(annotate.model_status(db, pid))
            most_waiting = max(most_waiting, queued_heads(db, pid))
        while store.job(db, embed_job["id"])["status"] == store.JobStatus.RUNNING:
            statuses.append(annotate.model_status(db, pid))
            most_waiting = max(most_waiting, queued_heads(db, pid))
            time.sleep(0.3)
        embed_done = store.job(db, embed_job["id"])
        assert embed_done["status"] == store.JobStatus.DONE, embed_done["error"]
        full = wait_for(lambda: next((j for j in store.jobs(db, pid) if j["kind"] == store.JobKind.FULL
                                      and j["status"] in ("done", "failed")), None), 600, "the due full retrain")
    finally:
        stop_worker(process)

    assert most_waiting <= 1, "refits piled up in the queue"
    # the embedding was published in growing pieces, the first within a few hundred texts
    encoders = [e for e in db.conn.execute("SELECT n FROM encoders WHERE project_id = ? ORDER BY id", (pid,))]
    sizes = [e[0] for e in encoders]
    assert sizes[0] < N and N in sizes, sizes
    # a head fitted on the embedded labeled texts before the embedding ended
    versions = store.versions(db, pid)
    early = [v for v in versions if v["kind"] == "head" and v["created_at"] < embed_done["finished_at"]]
    assert early, [(v["kind"], v["created_at"]) for v in versions]
    # the page said what was happening, with progress, and that labeling goes on
    preparing = [s for s in statuses if "preparing the texts" in s]
    assert any(f"of {N:,} texts" in s for s in preparing) or any(s.startswith("Model: version") for s in statuses)
    assert all("Keep labeling" in s for s in preparing)
    # the retrain due at 10 (and 20) labels waited for the embedding and ran, instead of being dropped
    assert full["status"] == store.JobStatus.DONE and full["result_version_id"], (full["message"], full["error"])
    assert full["started_at"] >= embed_done["finished_at"] - 0.01
    assert "nothing to do" not in (full["message"] or "")
