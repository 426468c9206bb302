"""Multi-label full retrains (issue 21): SetFit on label sets (texts sharing a label are positive
pairs) through a real worker process, and a transformer with problem_type="multi_label_classification";
each publishes a version the annotate flow reads, the heads refit on its encoder, and its export
predicts the app's label sets in a fresh process without Sieve."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import store
from core.files import model_export, multilabel_export, multilabel_io, predict
from core.labeling import annotate, multilabel, scheduling
from core.settings import ProjectSettings
from core.team import auth
from tests.conftest import (
    multilabel_dataset,
    run_queued,
    stop_worker,
    wait_for,
    without_sieve,
)
from tests.integration.test_worker_process import start_worker

pytestmark = pytest.mark.integration

PREDICT = ("import json, sys; sys.path.insert(0, sys.argv[1]); import predict; "
           "print(json.dumps(predict.predict(json.load(open(sys.argv[2])), sys.argv[1])))")


def debtags_project(db, settings: ProjectSettings, n_labeled=80, n_unlabeled=40):
    frame = multilabel_dataset("train", n=n_labeled + n_unlabeled, seed=2)
    frame.loc[n_labeled:, "labels"] = ""  # unlabeled texts, for the queue
    plan = multilabel_io.plan_import(frame, "text", "labels")
    pid = multilabel_io.create_project(db, auth.local_actor(), "debtags", plan, settings=settings)
    return pid, plan.classes


def sets_outside_sieve(exports: list, texts: list[str], tmp_path) -> list:
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    out = []
    for folder in exports:
        result = subprocess.run([sys.executable, "-c", PREDICT, str(folder), str(tmp_path / "texts.json")],
                                capture_output=True, text=True, timeout=300, **without_sieve())
        assert result.returncode == 0, result.stderr[-3000:]
        out.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return out


def test_setfit_multilabel_retrain_through_the_worker_exports_the_apps_sets(db, data_dir, tmp_path):
    settings = ProjectSettings(retrain_every=0, multi_target_strategy="classifier-chain", family="setfit",
                               family_args={"setfit": {"max_steps": 4, "batch_size": 8, "max_length": 32,
                                                         "pair_rule": "shared"}})
    pid, classes = debtags_project(db, settings)
    process = start_worker(data_dir)
    try:
        base = wait_for(lambda: store.latest_encoder(db, pid), 120, "the pool embedding")
        wait_for(lambda: store.latest_version(db, pid), 60, "the first head version")
        job_id = scheduling.train_now(db, auth.local_actor(), pid).job_id
        wait_for(lambda: store.job(db, job_id)["status"] in (store.JobStatus.DONE, store.JobStatus.FAILED), 240,
                 "the multi-label retrain")
        job = store.job(db, job_id)
        assert job["status"] == store.JobStatus.DONE, job["error"]
        full = store.version(db, job["result_version_id"])
        head = wait_for(lambda: (v := store.latest_version(db, pid)) and v["kind"] == "head"
                        and v["id"] > full["id"] and v, 60, "the head refit on the new encoder")
    finally:
        stop_worker(process)
    p = full["params"]
    assert full["kind"] == "full" and p["multilabel"] and p["family"] == "setfit"
    assert p["pair_rule"] == "shared" and p["multi_target_strategy"] == "classifier-chain"
    # each label also reads the decisions on the labels before it, in the retrain and in the refits after it
    assert (Path(full["path"]) / "head_multilabel_chain.json").exists() and head["params"]["head"]["kind"] == \
        "classifier-chain logistic"
    assert full["timings"]["train_steps"] == 4 and full["n_labels"] == 80
    assert p["held_back"] == 16 and "held-back slice of 16" in full["metrics"]["thresholds_tuned_on"]
    encoder = store.encoder(db, full["encoder_id"])
    assert encoder["id"] != base["id"] and encoder["family"] == "sentence-transformers"
    assert head["encoder_id"] == encoder["id"]  # the heads after it use the fine-tuned encoder
    # the fine-tuned encoder embeds at the base encoder's own length, not the 32 tokens it trained at
    from core.learning import embeddings

    assert embeddings.open_encoder(encoder["model"]).max_seq_length == embeddings.open_encoder(None).max_seq_length
    # the annotate flow reads it exactly as a head version: probabilities, thresholds, queue
    probs = np.load(f"{full['path']}/probs.npy")
    assert probs.shape == (120, len(classes)) and len(multilabel.thresholds(full)) == len(classes)
    assert len(np.load(f"{full['path']}/queue.npy"))
    assert multilabel.suggested_labels(db, pid, full, int(store.example_ids(db, pid)[0])) is not None
    shown = annotate.next_text(db, auth.local_actor(), pid)
    assert shown is not None and shown.version_id == head["id"]
    # the export of the retrain (and of the head after it) loads outside Sieve with the app's sets
    texts = multilabel_dataset("test", n=30)["text"].tolist()
    outs = [model_export.export_model(db, v["id"], tmp_path / f"v{v['id']}") for v in (full, head)]
    card = (outs[0] / "README.md").read_text()
    assert "Load it without Sieve" in card and "SetFit" in card and "held-back slice" in card and "chain" in card
    app = [multilabel_export.predict_sets(db, v, texts) for v in (full, head)]
    assert any(app[0]) and sets_outside_sieve(outs, texts, tmp_path) == app
    # predictions on new files (Model page, `python -m core predict`) give the same sets
    for v, sets in zip((full, head), app):
        frame = predict.frame_for(v, texts, predict.scorer(db, v)(texts), classes)
        assert frame["labels"].tolist() == sets


def test_transformer_multilabel_retrain_exports_the_apps_sets(db, tmp_path):
    settings = ProjectSettings(retrain_every=0, family="transformer",
                               family_args={"transformer": {"num_epochs": 1, "max_length": 32, "learning_rate": 1e-4}})
    pid, classes = debtags_project(db, settings)
    run_queued(db, (store.JobKind.EMBED,))
    run_queued(db, (store.JobKind.HEAD,))
    scheduling.train_now(db, auth.local_actor(), pid)
    run_queued(db, (store.JobKind.FULL,))
    full = store.latest_version(db, pid)
    assert full["kind"] == "full" and full["params"]["multilabel"] and full["params"]["family"] == "transformer"
    assert full["timings"]["train_steps"] == 4  # 64 texts trained on (16 held back), batches of 16, 1 epoch
    encoder = store.encoder(db, full["encoder_id"])
    assert encoder["family"] == "transformer"
    config = json.loads((Path(encoder["model"]) / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification" and len(config["id2label"]) == len(classes)
    probs = np.load(f"{full['path']}/probs.npy")
    assert probs.shape == (120, len(classes)) and not np.allclose(probs.sum(1), 1, atol=1e-2)  # sigmoids, not softmax
    run_queued(db, (store.JobKind.HEAD,))  # the heads on the transformer's embeddings
    head = store.latest_version(db, pid)
    assert head["kind"] == "head" and head["encoder_id"] == full["encoder_id"]
    texts = multilabel_dataset("test", n=30)["text"].tolist()
    outs = [model_export.export_model(db, v["id"], tmp_path / f"v{v['id']}") for v in (full, head)]
    assert "multi_label_classification" in (outs[0] / "README.md").read_text()
    app = [multilabel_export.predict_sets(db, v, texts) for v in (full, head)]
    assert sets_outside_sieve(outs, texts, tmp_path) == app
    # predictions on new files (Model page, `python -m core predict`) give the same sets
    for v, sets in zip((full, head), app):
        frame = predict.frame_for(v, texts, predict.scorer(db, v)(texts), classes)
        assert frame["labels"].tolist() == sets
