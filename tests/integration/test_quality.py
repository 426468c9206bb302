"""Suspicious-label review finds deliberately flipped labels (real encoder, real TREC texts)."""
import numpy as np

from core import store
from core.team import auth, quality
from tests.conftest import TREC_CLASSES, dataset, make_project, run_queued


def test_flipped_labels_rank_near_the_top(db):
    frame = dataset("trec6", "train", 2000)
    rng = np.random.default_rng(0)
    flipped_rows = rng.choice(len(frame), size=len(frame) // 20, replace=False)  # 5 %
    noisy = frame["label"].copy()
    for row in flipped_rows:
        noisy[row] = rng.choice([c for c in TREC_CLASSES if c != frame["label"][row]])
    frame = frame.assign(label=noisy)
    admin = auth.local_actor()
    pid = make_project(db, frame, TREC_CLASSES, labels="label", name="noisy", actor=admin)
    run_queued(db, (store.JobKind.EMBED, store.JobKind.HEAD))
    job_id = quality.request_analysis(db, admin, pid)
    run_queued(db, (quality.QUALITY,))  # the worker's job, run here
    assert store.job(db, job_id)["status"] == store.JobStatus.DONE
    analysis = quality.latest_analysis(db, pid)
    by_text = {text: i for i, text in enumerate(frame["text"])}
    texts = store.texts_by_id(db, [i["example_id"] for i in analysis["issues"]])
    top = {by_text[texts[i["example_id"]]] for i in analysis["issues"][: len(frame) // 10]}
    found = len(top & set(flipped_rows.tolist()))
    assert found >= len(flipped_rows) / 2, f"{found} of {len(flipped_rows)} flipped labels in the top 10 %"
    first = analysis["issues"][0]
    assert first["suggested"] != first["label"] and 0 <= first["confidence"] <= 1
