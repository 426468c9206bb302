"""The worker's heavy jobs on a real local Ray cluster (2 CPUs), inside a loopback-only network
namespace (started by tests/ray/test_ray_cluster.py, never directly)."""
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import store
from core.files import imports, predict
from core.jobs import worker
from core.labeling import annotate, scheduling
from core.learning import classifiers, embeddings
from core.team import auth
from core.settings import ProjectSettings
from tests.conftest import TREC_CLASSES, dataset, wait_for

pytestmark = pytest.mark.ray
TIMES: dict[str, float] = {}


def short_texts(n: int) -> list[str]:
    """`n` distinct short texts (4-word windows over the trec6 questions)."""
    words = " ".join(dataset("trec6", "train")["text"]).split()
    seen: dict[str, None] = {}
    for i in range(len(words) - 4):
        seen.setdefault(" ".join(words[i:i + 4]), None)
        if len(seen) == n:
            break
    assert len(seen) == n
    return list(seen)


def project_of(db, texts: list[str], name: str, classes=("a", "b"), settings=None) -> int:
    frame = pd.DataFrame({"text": texts})
    return imports.create_project_from_plan(db, auth.local_actor(), name, imports.plan_import(frame, "text", None, list(classes)),
                                       settings=settings)


def run_next(db, kind: str) -> dict:
    job = store.claim_job(db, "ray-test-worker", (kind,))
    assert job is not None, f"no queued {kind} job"
    worker.run_job(db, job)
    return store.job(db, job["id"])


def test_pool_embedding_over_two_actors_equals_one_process(ray_cluster, db, monkeypatch):
    texts = short_texts(20_000)
    pid = project_of(db, texts, "twenty-thousand")
    started = time.monotonic()
    job = run_next(db, store.JobKind.EMBED)
    TIMES["ray_embed_20k_s"] = time.monotonic() - started
    assert job["status"] == store.JobStatus.DONE, job
    encoder = store.latest_encoder(db, pid)
    ids, vectors = embeddings.read(encoder["path"])
    by_id = store.texts_by_id(db, ids.tolist())
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each actor (Ray gives it one CPU); two OpenMP threads crawl on a loaded machine
    started = time.monotonic()
    try:
        local = embeddings.encode(embeddings.load_encoder(None), [by_id[i] for i in ids])
    finally:
        torch.set_num_threads(threads)
    TIMES["local_embed_20k_s"] = time.monotonic() - started
    assert vectors.shape == (20_000, 384)
    np.testing.assert_allclose(np.asarray(vectors), local, atol=2e-3, rtol=0)
    print("timings", TIMES)


def embed_workers() -> list[int]:
    out = subprocess.run(["pgrep", "-f", r"MapWorker\(MapBatches\(Embedder\)\)"], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_an_actor_killed_mid_embedding_requeues_the_job_which_then_finishes(ray_cluster, db):
    pid = project_of(db, short_texts(4_096), "killed")
    job = store.claim_job(db, "ray-test-worker", (store.JobKind.EMBED,))
    killed: list[int] = []

    def kill_when_embedding():
        wait_for(lambda: "embedded" in (store.job(db, job["id"])["message"] or ""), 120, "the first batches")
        for pid_ in embed_workers():  # every actor of the pool: Ray has lost them
            os.kill(pid_, signal.SIGKILL)
            killed.append(pid_)

    killer = threading.Thread(target=kill_when_embedding)
    killer.start()
    worker.run_job(db, job)
    killer.join()
    assert killed
    after = store.job(db, job["id"])
    assert after["status"] == store.JobStatus.QUEUED, after
    assert after["message"] == "a Ray node or actor was lost; re-queued (attempt 1 of 3)"
    assert store.latest_encoder(db, pid) is None  # nothing half-written was published

    again = run_next(db, store.JobKind.EMBED)
    assert again["id"] == job["id"] and again["status"] == store.JobStatus.DONE and again["attempts"] == 2, again
    assert store.latest_encoder(db, pid)["n"] == 4_096


def test_a_full_retrain_through_ray_publishes_a_version_that_loads(ray_cluster, db):
    frame = dataset("trec6", "train", 160)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = project_of(db, frame["text"].tolist(), "retrain", TREC_CLASSES, ProjectSettings(
        retrain_every=0, family_args={"setfit": {"max_steps": 4, "batch_size": 8}}))
    assert run_next(db, store.JobKind.EMBED)["status"] == store.JobStatus.DONE
    for _ in range(14):
        shown = annotate.next_text(db, auth.local_actor("ann"), pid)
        annotate.submit_label(db, auth.local_actor("ann"), pid, shown, gold[shown.text])
    while (job := store.claim_job(db, "ray-test-worker", (store.JobKind.HEAD,))) is not None:
        worker.run_job(db, job)
    job_id = scheduling.train_now(db, auth.local_actor(), pid).job_id
    started = time.monotonic()
    job = run_next(db, store.JobKind.FULL)
    TIMES["ray_retrain_s"] = time.monotonic() - started
    assert job["id"] == job_id and job["status"] == store.JobStatus.DONE, job
    version = store.latest_version(db, pid)
    assert version["kind"] == store.JobKind.FULL and version["timings"]["ray"] is True
    assert version["timings"]["train_steps"] == 4

    # The published directory loads (here, in this process) and scores as the stored probabilities say.
    encoder = store.encoder(db, version["encoder_id"])
    model = classifiers.load("setfit", Path(encoder["path"]) / "model")
    ids, _ = embeddings.read(encoder["path"])
    by_id = store.texts_by_id(db, ids[:50].tolist())
    _, probs = model.embed_and_score([by_id[i] for i in ids[:50]])
    stored = np.load(Path(version["path"]) / "probs.npy")[:50]
    np.testing.assert_allclose(probs, stored, atol=2e-3)
    assert (Path(version["path"]) / "head.json").exists()  # SetFit's logistic head came back, as arrays

    # The head refit on the new encoder follows; predictions on a file also run on Ray.
    assert run_next(db, store.JobKind.HEAD)["status"] == store.JobStatus.DONE
    predict_id = predict.request_predict(db, auth.local_actor(), pid, version["id"], frame.head(40), "text")
    done = run_next(db, store.JobKind.PREDICT)
    assert done["id"] == predict_id and done["status"] == store.JobStatus.DONE, done
    result = pd.read_csv(done["result"]["path"])
    assert len(result) == 40 and set(result["predicted"]) <= set(TREC_CLASSES)
    print("timings", TIMES)
