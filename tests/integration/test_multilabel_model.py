"""Multi-label heads end to end in the worker's code (issue 21): debtags texts imported with
their sets, embedded with the real model, a one-vs-rest version with tuned thresholds, its
figures on the eval sample, its queue, and an export that predicts the same sets outside Sieve."""
import json
import subprocess
import sys

import pandas as pd

from core import store
from core.files import model_export, multilabel_export, multilabel_io
from core.jobs import training
from core.labeling import annotate, multilabel
from core.team import auth
from tests.conftest import multilabel_dataset, without_sieve


def test_a_multi_label_version_predicts_the_same_sets_outside_sieve(db, tmp_path):
    frame = multilabel_dataset("train", n=360, seed=1)
    labeled = frame.iloc[:240]
    unlabeled = frame.iloc[240:][["text"]]
    eval_part = frame.iloc[300:]
    mixed = pd.concat([labeled, unlabeled.assign(labels="")], ignore_index=True)
    plan = multilabel_io.plan_import(mixed, "text", "labels")
    pid = multilabel_io.create_project(db, auth.local_actor(), "debtags", plan, eval_fraction=0.5)
    training.embed_pool(db, pid)
    # label the eval texts with their true sets, as annotators would
    truth = dict(zip(eval_part["text"], eval_part["labels"]))
    actor = auth.local_actor()
    for example_id in store.example_ids(db, pid, store.Split.EVAL):
        text = store.example(db, int(example_id))["text"]
        sets = [x for x in truth.get(text, "").split("|") if x in plan.classes]
        multilabel.submit_labels(db, actor, pid, annotate.NextText.direct(int(example_id)), sets)
    version_id = training.refit_head(db, pid)
    version = store.version(db, version_id)
    m = version["metrics"]
    assert version["params"]["multilabel"] and m["n_train"] == 240
    assert 0.2 < m["eval_micro_f1"] <= 1 and m["eval_micro_f1_ci"][0] <= m["eval_micro_f1"] <= m["eval_micro_f1_ci"][1]
    assert {"eval_macro_f1", "eval_hamming_loss", "eval_subset_accuracy", "eval_per_label"} <= m.keys()
    thresholds = multilabel.thresholds(version)
    assert len(thresholds) == len(plan.classes) and len(set(thresholds.round(2))) > 1  # tuned per label
    # the queue serves unlabeled pool texts; the suggestion is every label above its threshold
    shown = annotate.next_text(db, actor, pid)
    assert shown is not None and store.example(db, shown.example_id)["split"] == store.Split.POOL
    suggested = multilabel.suggested_labels(db, pid, version, shown.example_id)
    assert suggested is not None and all(name in plan.classes for name, _ in suggested)
    # export, load outside Sieve, same sets as the app
    out = model_export.export_model(db, version_id, tmp_path / "model")
    assert "Load it without Sieve" in (out / "README.md").read_text()
    texts = multilabel_dataset("test", n=40)["text"].tolist()
    app_sets = multilabel_export.predict_sets(db, version, texts)
    assert any(app_sets)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import predict; "
            "print(json.dumps(predict.predict(json.load(open(sys.argv[2])), sys.argv[1])))")
    where = without_sieve()
    result = subprocess.run([sys.executable, "-c", code, str(out), str(tmp_path / "texts.json")], capture_output=True,
                            text=True, timeout=300, **where)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == app_sets


def test_simulate_runs_on_multi_label_data(tmp_path, capsys):
    from core import cli

    multilabel_dataset("train", n=160).to_csv(tmp_path / "train.csv", index=False)
    multilabel_dataset("test", n=80).to_csv(tmp_path / "test.csv", index=False)
    cli.main(["simulate", "--multilabel", "--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv"),
              "--init", "20", "--batch", "20", "--rounds", "2", "--out", str(tmp_path / "out.json")])
    result = json.loads((tmp_path / "out.json").read_text())
    assert [p["labels"] for p in result["curve"]] == [20, 40, 60]
    assert result["config"]["strategy"] == "per_label_margin"
    first, *later = result["curve"]
    assert first["kappa_previous"] is None and all(0 <= p["kappa_previous"] <= 1 for p in later)
    assert all(0 < p["mean_uncertainty"] < 1 and len(p["per_label_f1"]) == len(result["config"]["classes"])
               for p in result["curve"])
    assert "macro-F1" in capsys.readouterr().out
