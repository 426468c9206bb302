"""The whole loop with the real packaged model on a slice of real data (trec6)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from core import store
from core.files import imports, model_export
from core.jobs import training
from core.labeling import annotate, scheduling
from core.team import auth
from core.settings import ProjectSettings
from tests.conftest import TREC_CLASSES, dataset, make_project, run_queued, without_sieve

pytestmark = pytest.mark.integration
CLASSES = TREC_CLASSES



def label_from_queue(db, pid, gold, n, annotator="ann"):
    for _ in range(n):
        shown = annotate.next_text(db, auth.local_actor(annotator), pid)
        annotate.submit_label(db, auth.local_actor(annotator), pid, shown, gold[shown.text])
        run_queued(db, (store.JobKind.HEAD,))


def test_import_label_refit_retrain_export(db, tmp_path):
    frame = dataset("trec6", "train", 300)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = make_project(db, frame, CLASSES, name="trec", eval_fraction=0.1,
                       settings=ProjectSettings(family_args={"setfit": {"max_steps": 2, "batch_size": 8}}))
    run_queued(db, (store.JobKind.EMBED,))
    encoder = store.latest_encoder(db, pid)
    ids, vectors = np.load(f"{encoder['path']}/ids.npy"), np.load(f"{encoder['path']}/embeddings.npy")
    assert vectors.shape == (300, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)
    assert ids.tolist() == store.example_ids(db, pid)  # one row per example, in id order
    # The density table a two-class `auto` refit needs is built here, in the embed lane, not in the refit.
    assert np.load(f"{encoder['path']}/neighbours.npy").shape == (300, 10)

    first = annotate.next_text(db, auth.local_actor("ann"), pid)
    assert first.strategy == "cold start: kmeans" and first.version_id is None
    label_from_queue(db, pid, gold, 20)
    versions = store.versions(db, pid)
    assert versions and all(v["kind"] == "head" for v in versions)
    latest = versions[-1]
    assert latest["n_labels"] == 20 and "cv_accuracy" in latest["metrics"]
    assert latest["timings"]["total_s"] < 5

    shown = annotate.next_text(db, auth.local_actor("ann"), pid)
    labeled = {r["example_id"] for r in store.current_labels(db, pid)}
    assert shown.example_id not in labeled and shown.split == store.Split.POOL
    assert shown.suggestion in CLASSES and 0 < shown.confidence <= 1
    assert shown.strategy in ("kmeans", "margin")  # `auto` after the cold start (six classes: plain margin)

    # Eval sample: random order, labels count for eval accuracy, never for training.
    for _ in range(6):
        ev = annotate.next_text(db, auth.local_actor("ann"), pid, store.Split.EVAL)
        annotate.submit_label(db, auth.local_actor("ann"), pid, ev, gold[ev.text])
    run_queued(db, (store.JobKind.HEAD,))
    with store.transaction(db) as conn:
        store.enqueue(conn, pid, store.JobKind.HEAD)
    run_queued(db, (store.JobKind.HEAD,))
    latest = store.latest_version(db, pid)
    assert latest["metrics"]["eval_n"] == 6 and 0 <= latest["metrics"]["eval_accuracy"] <= 1
    assert latest["n_labels"] == 20

    job_id = scheduling.train_now(db, auth.local_actor(), pid).job_id
    assert scheduling.train_now(db, auth.local_actor(), pid).job_id == job_id  # a second click does not queue a second retrain
    run_queued(db, (store.JobKind.FULL,))
    full = store.latest_version(db, pid)
    assert full["kind"] == "full" and full["timings"]["train_steps"] == 2
    assert store.latest_encoder(db, pid)["id"] != encoder["id"]
    served_before = store.current_version(db, pid)
    assert served_before["kind"] == "head"  # the retrain's own version waits for the comparison
    assert annotate.next_text(db, auth.local_actor("ann"), pid).version_id == served_before["id"]
    run_queued(db, (store.JobKind.HEAD,))  # compares the new encoder with the previous one and serves the better
    served = store.current_version(db, pid)
    assert served["kind"] == "head" and served["n_labels"] == 20 and served["params"]["serving"]["served"]
    assert annotate.next_text(db, auth.local_actor("ann"), pid).version_id == served["id"]

    out = model_export.export_model(db, full["id"], tmp_path / "model")
    assert "version" in (out / "README.md").read_text()
    script = ("import json,sys; from setfit import SetFitModel; m = SetFitModel.from_pretrained(sys.argv[1]); "
              "print(json.dumps([str(p) for p in m.predict(['Who wrote Hamlet?', 'What does NASA stand for?'])]))")
    result = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=300,
                            **without_sieve())
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout.strip().splitlines()[-1])) <= set(CLASSES)


def test_adding_data_extends_the_embeddings(db):
    frame = dataset("trec6", "train", 120)
    pid = make_project(db, frame.iloc[:80], CLASSES, labels="label", name="trec")
    run_queued(db, (store.JobKind.EMBED,))
    run_queued(db, (store.JobKind.HEAD,))
    before = store.latest_version(db, pid)
    imports.add_to_project(db, auth.local_actor(), pid, frame.iloc[80:], "text")
    run_queued(db, (store.JobKind.EMBED,))
    run_queued(db, (store.JobKind.HEAD,))
    encoder = store.latest_encoder(db, pid)
    assert encoder["n"] == store.example_count(db, pid) == len(set(frame["text"].str.strip()))
    after = store.latest_version(db, pid)
    assert after["number"] > before["number"] and after["encoder_id"] == encoder["id"]


def test_a_retrain_that_finishes_behind_the_labels_never_replaces_a_newer_model(db):
    """Labels given while a full retrain runs: the served model keeps the most labels, and a head
    refit with every current label follows the retrain on whichever encoder scores better."""
    frame = dataset("trec6", "train", 200, seed=1)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = make_project(db, frame, CLASSES, name="trec", settings=ProjectSettings(retrain_every=0, family_args={
        "setfit": {"max_steps": 2, "batch_size": 8, "max_length": 32}}))
    run_queued(db, (store.JobKind.EMBED,))
    label_from_queue(db, pid, gold, 10)
    job = store.job(db, scheduling.train_now(db, auth.local_actor(), pid).job_id)
    store.claim_job(db, "test", (store.JobKind.FULL,))

    def label_meanwhile(fraction, _message):  # while the retrain scores the pool, 10 more labels arrive
        if fraction >= 0.7 and store.label_count(db, pid) == 10:
            label_from_queue(db, pid, gold, 10)

    full_id = training.full_retrain(db, pid, job["id"], label_meanwhile)
    newest_head = store.current_version(db, pid)
    full = store.version(db, full_id)
    assert full["n_labels"] == 10 - len(full["params"]["held_out"]) and full["params"]["held_out"]
    assert newest_head["kind"] == "head" and newest_head["n_labels"] == 20  # not replaced by the older full one
    run_queued(db, (store.JobKind.HEAD,))  # the refit the retrain queued: it compares the two encoders
    served = store.current_version(db, pid)
    assert served["kind"] == "head" and served["n_labels"] == 20
    figures = served["params"]["serving"]["comparison"]
    # Scored on the held-out fold and the 10 labels given while it ran: texts the new encoder never saw.
    assert figures["new"]["n"] == figures["old"]["n"] == 10 + len(store.version(db, full_id)["params"]["held_out"])
    new_encoder = store.encoder(db, store.version(db, full_id)["encoder_id"])
    on_new = store.encoder(db, served["encoder_id"])["model"] == new_encoder["model"]
    assert on_new == served["params"]["serving"]["reason"].startswith("served: the retrained")
    assert annotate.next_text(db, auth.local_actor("ann"), pid).version_id == served["id"]


def test_full_retrain_stops_at_its_time_budget_and_shows_time_left(db):
    frame = dataset("trec6", "train", 120, seed=2)
    pid = make_project(db, frame, CLASSES, labels="label", name="budget", settings=ProjectSettings(
        retrain_every=0, retrain_budget_s=10, family_args={"setfit": {"max_steps": 2000, "batch_size": 8}}))
    run_queued(db, (store.JobKind.EMBED,))
    messages = []
    job_id = scheduling.train_now(db, auth.local_actor(), pid).job_id
    store.claim_job(db, "test", (store.JobKind.FULL,))
    version_id = training.full_retrain(db, pid, job_id, lambda f, m: messages.append(m))
    timings = store.version(db, version_id)["timings"]
    assert timings["stopped_at_budget"] and timings["budget_s"] == 10
    assert 10 <= timings["train_s"] < 40 and 0 < timings["train_steps"] < 2000
    assert any("left" in m for m in messages), messages[:5]


def test_eval_texts_are_interleaved_and_every_version_gets_an_interval(db, monkeypatch):
    """One text in ten comes from the random eval sample; versions carry eval accuracy and macro-F1
    with 95 % intervals, and the Model page draws them (not cross-validation on the model's picks)."""
    frame = dataset("trec6", "train", 400, seed=4)
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    pid = make_project(db, frame, CLASSES, name="eval", eval_fraction=imports.DEFAULT_EVAL_FRACTION)
    assert store.example_count(db, pid, store.Split.EVAL) == 20
    run_queued(db, (store.JobKind.EMBED,))
    splits = []
    for _ in range(40):
        shown = annotate.next_text(db, auth.local_actor("ann"), pid, annotate.choose_split(db, pid, "ann"))
        splits.append(shown.split)
        annotate.submit_label(db, auth.local_actor("ann"), pid, shown, gold[shown.text])
        run_queued(db, (store.JobKind.HEAD,))
    # one in five from the eval sample at first (issue 20): the 5th, 10th, ... text
    assert splits.count(store.Split.EVAL) == 8 and splits[4] == store.Split.EVAL and splits[:4].count(store.Split.EVAL) == 0
    metrics = store.current_version(db, pid)["metrics"]
    assert metrics["eval_n"] == 8
    assert metrics["eval_accuracy_low"] <= metrics["eval_accuracy"] <= metrics["eval_accuracy_high"]

    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    monkeypatch.setenv("SIEVE_WORKER", "external")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["project_id"] = pid
    at.run()
    at.switch_page("ui/pages/model.py").run()
    assert not at.exception
    assert any(m.label.startswith("Eval accuracy") for m in at.metric)
    assert any("on 8 eval texts" in c.value for c in at.caption)
    assert not any("No eval figures yet" in i.value for i in at.info)
