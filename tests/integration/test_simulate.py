"""python -m core simulate on real data, end to end through the CLI."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, dataset

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("strategy", ["auto", "random"])
def test_simulate_cli_writes_the_learning_curve(tmp_path, data_dir, strategy):
    dataset("trec6", "train", 600).to_csv(tmp_path / "train.csv", index=False)
    dataset("trec6", "test", 200).to_csv(tmp_path / "test.csv", index=False)
    out = tmp_path / "result.json"
    command = [sys.executable, "-m", "core", "simulate", "--train", str(tmp_path / "train.csv"),
               "--test", str(tmp_path / "test.csv"), "--strategy", strategy, "--init", "12", "--batch", "6",
               "--rounds", "3", "--seed", "0", "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["config"]["strategy"] == strategy and doc["config"]["seed"] == 0
    assert [s["n_labels"] for s in doc["steps"]] == [12, 18, 24, 30]
    for step in doc["steps"]:
        assert set(step) >= {"n_labels", "accuracy", "macro_f1", "fit_s", "query_s"}
    assert doc["steps"][-1]["accuracy"] > 1 / 6  # better than chance over six classes
    assert abs(doc["auc"] - sum(s["accuracy"] for s in doc["steps"]) / 4) < 1e-9


def test_simulate_rejects_missing_columns(tmp_path, data_dir):
    (tmp_path / "bad.csv").write_text("sentence,label\nx,a\n")
    result = subprocess.run([sys.executable, "-m", "core", "simulate", "--train", str(tmp_path / "bad.csv"),
                             "--test", str(tmp_path / "bad.csv")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0 and "no column text" in result.stderr
    assert "Traceback" not in result.stderr
