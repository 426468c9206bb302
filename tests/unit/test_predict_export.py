"""Predictions on new data (request checks, where files go, the output), the Hugging Face datasets
export and the model card, without a real model."""
import numpy as np
import pandas as pd
import pytest

from core import config, store
from core.files import hf_datasets, imports, model_export, predict
from core.labeling import annotate, scheduling
from core.team import auth
from core.versions import registry
from tests.unit.test_registry import fake_encoder, fake_version, make_project


def frame(csv: str) -> pd.DataFrame:
    return imports.read_table(csv.encode(), "new.csv")


@pytest.fixture
def project(db):
    pid = make_project(db)
    encoder_id, ids = fake_encoder(db, pid)
    version_id = fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=[])
    return pid, version_id


def test_request_predict_stores_the_texts_in_the_data_directory_and_queues_a_job(db, project):
    pid, version_id = project
    job_id = predict.request_predict(db, auth.local_actor(), pid, version_id, frame("id,body\n1,first text\n2,=cmd()\n"), "body", "csv",
                                     filename="../../etc/new.csv")
    job = store.job(db, job_id)
    assert job["kind"] == store.PREDICT and job["params"]["n"] == 2 and job["params"]["filename"] == "new.csv"
    stored = predict.input_dir(pid) / job["params"]["input"]
    assert stored.exists() and config.data_dir().resolve() in stored.resolve().parents
    assert pd.read_parquet(stored)["text"].tolist() == ["first text", "=cmd()"]
    assert store.PREDICT in store.LANES["embed"]


def test_request_predict_refuses_bad_requests_and_writes_nothing(db, project):
    pid, version_id = project
    with pytest.raises(predict.PredictFailed, match="no column 'text'"):
        predict.request_predict(db, auth.local_actor(), pid, version_id, frame("body\nx\n"), "text")
    with pytest.raises(predict.PredictFailed, match="no texts"):
        predict.request_predict(db, auth.local_actor(), pid, version_id, frame('text,b\n"",1\n'), "text")
    with pytest.raises(predict.PredictFailed, match="format"):
        predict.request_predict(db, auth.local_actor(), pid, version_id, frame("text\nx\n"), "text", "xlsx")
    with pytest.raises(predict.PredictFailed, match="does not exist"):
        predict.request_predict(db, auth.local_actor(), pid, version_id + 99, frame("text\nx\n"), "text")
    assert not predict.input_dir(pid).exists() or not any(predict.input_dir(pid).iterdir())
    assert [j for j in store.jobs(db, pid) if j["kind"] == store.PREDICT] == []


def test_run_predict_writes_predictions_with_probabilities(db, project, monkeypatch):
    pid, version_id = project
    monkeypatch.setattr(predict, "scorer", lambda db, v: lambda texts: np.tile([[0.3, 0.7]], (len(texts), 1)))
    job_id = predict.request_predict(db, auth.local_actor(), pid, version_id, frame("text\nfirst\n=2+3\n"), "text", "csv")
    job = store.claim_job(db, "test", (store.PREDICT,))
    predict.run_predict(db, job, lambda f, m: None)
    done = predict.finished(db, job_id)
    assert done is not None and done["result"]["n"] == 2
    out = pd.read_csv(done["result"]["path"])
    assert out.columns.tolist() == ["text", "predicted", "confidence", "p(yes)", "p(no)"]
    assert out["predicted"].tolist() == ["no", "no"] and np.allclose(out["p(no)"], 0.7)
    assert out["text"].tolist() == ["first", "'=2+3"]  # formula-safe CSV
    assert config.data_dir().resolve() in __import__("pathlib").Path(done["result"]["path"]).resolve().parents
    assert not any(predict.input_dir(pid).iterdir())  # the uploaded texts are removed once predicted


def test_hf_datasets_export_loads_with_class_labels_and_an_eval_split(db, project, tmp_path):
    from datasets import load_from_disk

    pid, _ = project
    pool, evals = store.example_ids(db, pid, store.POOL), store.example_ids(db, pid, store.EVAL)
    for example_id, label in [(pool[0], "yes"), (pool[1], "no"), (pool[2], "no"), (evals[0], "yes")]:
        annotate.submit_label(db, auth.local_actor("ann"), pid, example_id, label)
    hf_datasets.save(db, pid, tmp_path / "ds")
    loaded = load_from_disk(str(tmp_path / "ds"))
    assert set(loaded) == {"train", "eval"}
    assert loaded["train"].features["label"].names == ["yes", "no"]
    assert sorted(loaded["train"]["label"]) == [0, 1, 1] and loaded["eval"]["label"] == [0]
    assert loaded["eval"]["example_id"] == [evals[0]]


def test_dataset_export_job_zips_it_in_the_data_directory(db, project):
    pid, _ = project
    annotate.submit_label(db, auth.local_actor("ann"), pid, store.example_ids(db, pid, store.POOL)[0], "yes")
    job_id = scheduling.request_dataset_export(db, auth.local_actor(), pid)
    assert scheduling.request_dataset_export(db, auth.local_actor(), pid) == job_id  # one at a time
    job = store.claim_job(db, "test", (store.EXPORT,))
    model_export.run_export(db, job, lambda f, m: None)
    ready = model_export.latest_dataset_export(db, pid)
    assert ready and ready["path"].endswith("dataset.zip") and ready["labels"] == 1


def test_model_card_states_intervals_eval_sample_per_class_and_intended_use(db, project):
    pid, version_id = project
    evals = store.example_ids(db, pid, store.EVAL)
    for example_id, label in zip(evals, ["yes", "no", "yes"]):
        annotate.submit_label(db, auth.local_actor("ann"), pid, example_id, label)
    store.set_intended_use(db, auth.local_actor(), pid, "Triage support tickets; not for legal decisions.")
    encoder_id = store.latest_encoder(db, pid)["id"]
    ids = np.array(store.example_ids(db, pid))
    v = store.version(db, fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=[]))
    v["metrics"] = {"eval_accuracy": 0.67, "eval_accuracy_low": 0.21, "eval_accuracy_high": 0.94,
                    "eval_macro_f1": 0.4, "eval_n": 3}
    card = model_export.model_card(v, ["yes", "no"], "setfit", "default", facts=model_export.card_facts(db, v))
    assert "Accuracy: 0.670 (95 % CI 0.210–0.940)" in card
    assert "Macro-F1: 0.400 (too few eval texts for an interval)" in card
    assert "random sample of the project's unlabeled texts" in card and "at most 400" in card
    assert "| yes | 0.667 | 1.000 | 0.800 | 2 |" in card and "| no | 0.000 | 0.000 | 0.000 | 1 |" in card
    assert "Triage support tickets; not for legal decisions." in card
    assert f"Labels trained on: {v['n_labels']} (the newest given" in card


def test_pinned_version_is_what_the_export_page_and_cli_take(db, project):
    pid, first = project
    encoder_id = store.latest_encoder(db, pid)["id"]
    ids = np.array(store.example_ids(db, pid))
    fake_version(db, pid, encoder_id, ids, np.ones(len(ids), int), queue=[])
    registry.pin(db, auth.local_actor("alice"), pid, 1)
    from core import cli

    assert cli._version(db, store.project(db, pid), None)["id"] == first


def test_model_card_shows_user_words_as_written_and_no_figures_for_classes_without_eval_texts(db, project):
    """A new user's trial: the intended use went into the card as raw HTML, and a class without
    eval texts showed precision, recall and F1 of 0.000."""
    pid, _ = project
    evals = store.example_ids(db, pid, store.EVAL)
    annotate.submit_label(db, auth.local_actor("ann"), pid, evals[0], "yes")
    store.set_intended_use(db, auth.local_actor(), pid, "<b>Only</b> for | triage")
    encoder_id = store.latest_encoder(db, pid)["id"]
    ids = np.array(store.example_ids(db, pid))
    v = store.version(db, fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=[]))
    card = model_export.model_card(v, ["yes", "no"], "setfit", "default", facts=model_export.card_facts(db, v))
    assert "&lt;b&gt;Only&lt;/b&gt; for \\| triage" in card and "<b>" not in card
    assert "| no | – | – | – | 0 (no eval texts of this class yet) |" in card
