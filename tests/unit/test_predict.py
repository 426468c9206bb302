"""Predictions on new data (request checks, where files go, the output), without a real model."""
import numpy as np
import pandas as pd
import pytest

from core import config, store
from core.files import imports, predict
from core.jobs import worker
from core.team import auth
from tests.conftest import make_project
from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version


def frame(csv: str) -> pd.DataFrame:
    return imports.read_table(csv.encode(), "new.csv")


@pytest.fixture
def project(db):
    pid = make_project(db, **REGISTRY_PROJECT)
    encoder_id, ids = fake_encoder(db, pid)
    version_id = fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=[])
    return pid, version_id


def test_request_predict_stores_the_texts_in_the_data_directory_and_queues_a_job(db, project):
    pid, version_id = project
    job_id = predict.request_predict(db, auth.local_actor(), pid, version_id, frame("id,body\n1,first text\n2,=cmd()\n"), "body", "csv",
                                     filename="../../etc/new.csv")
    job = store.job(db, job_id)
    assert job["kind"] == store.JobKind.PREDICT and job["params"]["n"] == 2 and job["params"]["filename"] == "new.csv"
    stored = predict.input_dir(pid) / job["params"]["input"]
    assert stored.exists() and config.data_dir().resolve() in stored.resolve().parents
    assert pd.read_parquet(stored)["text"].tolist() == ["first text", "=cmd()"]
    assert store.JobKind.PREDICT in worker.LANES["embed"]


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
    assert [j for j in store.jobs(db, pid) if j["kind"] == store.JobKind.PREDICT] == []


def test_run_predict_writes_predictions_with_probabilities(db, project, monkeypatch):
    pid, version_id = project
    monkeypatch.setattr(predict, "scorer", lambda db, v: lambda texts: np.tile([[0.3, 0.7]], (len(texts), 1)))
    job_id = predict.request_predict(db, auth.local_actor(), pid, version_id, frame("text\nfirst\n=2+3\n"), "text", "csv")
    job = store.claim_job(db, "test", (store.JobKind.PREDICT,))
    predict.run_predict(db, job, lambda f, m: None)
    done = predict.finished(db, job_id)
    assert done is not None and done["result"]["n"] == 2
    out = pd.read_csv(done["result"]["path"])
    assert out.columns.tolist() == ["text", "predicted", "confidence", "p(yes)", "p(no)"]
    assert out["predicted"].tolist() == ["no", "no"] and np.allclose(out["p(no)"], 0.7)
    assert out["text"].tolist() == ["first", "'=2+3"]  # formula-safe CSV
    assert config.data_dir().resolve() in __import__("pathlib").Path(done["result"]["path"]).resolve().parents
    assert not any(predict.input_dir(pid).iterdir())  # the uploaded texts are removed once predicted




def test_a_multi_label_predictions_file_holds_each_texts_set_and_every_labels_probability():
    """Issue 21: the set is every label at or above its threshold; a list column in Parquet, a JSON
    list in CSV; a class added after the version was trained has probability 0 and is never in a set."""
    import io
    import json

    probs = np.array([[0.9, 0.2], [0.4, 0.6], [0.1, 0.1]])
    frame = predict.multilabel_frame(["a", "=b", "c"], probs, ["x|y", "z", "new"], np.array([0.5, 0.6]))
    assert frame.columns.tolist() == ["text", "labels", "p(x|y)", "p(z)", "p(new)"]
    assert frame["labels"].tolist() == [["x|y"], ["z"], []] and frame["p(new)"].tolist() == [0, 0, 0]
    back = pd.read_csv(io.BytesIO(predict.to_bytes(frame, "csv")), keep_default_na=False)
    assert [json.loads(s) for s in back["labels"]] == [["x|y"], ["z"], []] and back["text"][1] == "'=b"
    parquet = pd.read_parquet(io.BytesIO(predict.to_bytes(frame, "parquet")))
    assert [list(s) for s in parquet["labels"]] == [["x|y"], ["z"], []]
