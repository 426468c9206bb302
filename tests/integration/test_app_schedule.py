"""`simulate --schedule app`: the app's cadence replayed on a clock, on real texts and the real model."""
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, dataset

pytestmark = pytest.mark.integration


def _run(labels: int, seconds_per_label: float, **settings):
    from core.sim import app_schedule
    from core.settings import ProjectSettings

    train, test = dataset("trec6", "train", 600), dataset("trec6", "test", 200)
    args = app_schedule.ScheduleArguments(labels=labels, seconds_per_label=seconds_per_label,
                                          settings=ProjectSettings.from_dict(settings), device="cpu")
    return app_schedule.run(train, test, args)


def test_head_refits_follow_the_cadence_and_one_label_in_five_is_for_the_eval_sample(data_dir):
    result = _run(60, 30.0, retrain_every=0)  # slow annotator: every refit lands before the next label
    rows = result["labeled_rows"]
    assert len(rows) == len(set(rows)), "a text was given twice"
    assert result["eval_labels"] == 12 and len(rows) == 48  # choose_split: one in five (early) from the eval sample
    heads = [v for v in result["versions"] if v["kind"] == "head"]
    assert heads and all(v["n_train"] % 5 == 0 for v in heads)  # refit_every = 5
    assert not [v for v in result["versions"] if v["kind"] == "full"]
    for row in result["by_label"][1:-1]:
        if row["version"] is not None:  # the text shown came from the newest refit that had finished:
            served = next(v for v in result["versions"] if v["serial"] == row["version"])
            # (the refit on the 5th, 10th, ... label finishes a fraction of a second after it,
            # so the text asked for right then may still come from the refit before)
            assert served["n_train"] % 5 == 0 and 0 <= row["n_train"] - served["n_train"] <= 5
    assert result["by_label"][-1]["accuracy"] > 1 / 6


def test_a_fast_annotator_outpaces_the_worker_and_is_served_older_versions(data_dir):
    """The clock matters: at 20 ms a label, the versions in service lag behind the labels."""
    result = _run(80, 0.02, retrain_every=0)
    lags = [row["n_train"] - next(v["n_train"] for v in result["versions"] if v["serial"] == row["version"])
            for row in result["by_label"] if row["version"] is not None]
    assert lags and max(lags) > 5, lags
    rows = result["labeled_rows"]
    assert len(rows) == len(set(rows))


def test_full_retrains_run_in_their_own_lane_and_a_head_refit_follows_each(data_dir):
    result = _run(50, 5.0, retrain_every=20, family_args={"setfit": {"max_steps": 2}})
    fulls = [v for v in result["versions"] if v["kind"] == "full"]
    assert fulls[0]["n_train"] == 20
    if fulls[0]["published_s"] <= 40 * 5.0:  # the lane was free when the 40th label asked for the next retrain
        assert [v["n_train"] for v in fulls] == [20, 40]
    else:  # a loaded machine: the next retrain starts when the first one is done, with the labels by then
        assert all(v["n_train"] > 40 and v["started_s"] >= fulls[0]["published_s"] for v in fulls[1:])
    for full in fulls:
        assert full["published_s"] > full["started_s"]
        # labels kept coming while it trained: head refits were published in the meantime ...
        assert any(full["started_s"] < v["published_s"] < full["published_s"] for v in result["versions"]
                   if v["kind"] == "head") or full["published_s"] - full["started_s"] < 25
        # ... and the new encoder is compared with the previous one at once: two heads with every
        # label, the better served, the other kept; the retrain's own version is never served
        compared = [v for v in result["versions"] if v["kind"] == "head" and v["started_s"] == full["published_s"]]
        assert len(compared) == 2 and sorted(v["served"] for v in compared) == [False, True]
        assert all(v["reason"] and v["n_train"] >= full["n_train"] for v in compared)
        assert not full["served"]
    assert result["config"]["family"] == "setfit" and result["config"]["full_retrain_every"] == 20


def test_cli_prints_the_curve_and_writes_json(tmp_path, data_dir):
    dataset("trec6", "train", 400).to_csv(tmp_path / "train.csv", index=False)
    dataset("trec6", "test", 100).to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "app.json"
    base = [sys.executable, "-m", "core", "simulate", "--train", str(tmp_path / "train.csv"),
            "--test", str(tmp_path / "test.csv")]
    app = base + ["--schedule", "app", "--labels", "50"]
    result = subprocess.run(app + ["--settings", '{"retrain_every": 0}', "--out", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "version in service" in result.stdout and "the last published at" in result.stdout
    doc = json.loads(out.read_text())
    assert doc["by_label"][-1]["n_labels"] == 50 and np.isfinite(doc["end_s"])
    for settings, message in (('{"refit_every": 0}', "refit every"), ("[1, 2]", "must be a JSON object"),
                              ("5", "must be a JSON object"), ('{"head": 3}', '"head" must be an object'),
                              ('{"retrain_evry": 0}', "Unknown setting(s): retrain_evry"),
                              ("{bad", "--settings is not valid JSON")):
        bad = subprocess.run(app + ["--settings", settings], cwd=ROOT, capture_output=True, text=True)
        assert bad.returncode != 0 and message in bad.stderr and "Traceback" not in bad.stderr, (settings, bad.stderr)
    bad = subprocess.run(base + ["--settings", "{}"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode != 0 and "only with --schedule app" in bad.stderr
