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


def _rare_positive_split(n_pool: int = 400, n_test: int = 100, positive_share: float = 0.05):
    """sms_spam texts with 5 % spam: a random initial set often holds no spam at all."""
    import pandas as pd

    frame = dataset("sms_spam", "train")
    pieces = []
    for n in (n_pool, n_test):
        spam = frame[frame["label"] == "spam"].sample(round(n * positive_share), random_state=len(pieces))
        ham = frame[frame["label"] == "ham"].sample(n - len(spam), random_state=len(pieces))
        pieces.append(pd.concat([spam, ham]).sample(frac=1, random_state=0).reset_index(drop=True))
        frame = frame.drop(spam.index).drop(ham.index)
    return pieces


@pytest.mark.parametrize("strategy", ["auto", "random"])
def test_simulate_never_crashes_on_a_rare_class_with_a_random_start(data_dir, strategy):
    from core.sim import simulate

    train, test = _rare_positive_split()
    no_model_steps = 0
    for seed in range(30):
        doc = simulate.run(train, test, simulate.SimulationArguments(strategy=strategy, init=10, batch=5, rounds=3,
                                                                     seed=seed, init_strategy="random"))
        assert [s["n_labels"] for s in doc["steps"]] == [10, 15, 20, 25]
        for step in doc["steps"]:
            if not step["model"]:  # the app's cold start: a constant guess, no stopping signal
                no_model_steps += 1
                assert step["accuracy"] == 0.95 and step["kappa_previous"] is None
                assert step["mean_uncertainty"] is None
        for criterion in ("stabilizing_predictions", "overall_uncertainty"):  # never fired without a model
            stop = doc["stops"][criterion]
            assert stop is None or doc["steps"][stop["step"]]["model"]
    assert no_model_steps > 10  # 0.95^10: most random starts hold no spam


def test_simulate_starts_from_a_given_initial_set(data_dir):
    from core.sim import simulate

    train, test = dataset("trec6", "train", 300), dataset("trec6", "test", 100)
    doc = simulate.run(train, test, simulate.SimulationArguments(strategy="random", batch=5, rounds=1, seed=0,
                                                                 initial=list(range(12))))
    assert [s["n_labels"] for s in doc["steps"]] == [12, 17]
    assert 0 < doc["auc_macro_f1"] <= 1


def test_a_class_name_prior_scores_before_the_first_label(data_dir):
    from core.sim import simulate

    train, test = dataset("trec6", "train", 300), dataset("trec6", "test", 100)
    doc = simulate.run(train, test, simulate.SimulationArguments(strategy="auto", init=6, batch=6, rounds=1, seed=0,
                                                                 class_prior=True))
    assert doc["config"]["class_prior"] and [s["n_labels"] for s in doc["steps"]] == [6, 12]
    assert doc["steps"][-1]["accuracy"] > 1 / 6


def test_a_fading_class_name_prior_starts_as_the_app_does_and_fades(data_dir):
    """Issue 25: with `prior_fade` F the prior's share is F / (F + n); the first labels are the
    strategy's own cold start (as without the prior), not the class-covering set, and with a huge
    F the scores are the prior's alone."""
    from core.sim import simulate

    train, test = dataset("trec6", "train", 300), dataset("trec6", "test", 100)
    common = dict(strategy="auto", init=6, batch=6, rounds=1, seed=0)
    plain = simulate.run(train, test, simulate.SimulationArguments(**common))
    fading = simulate.run(train, test, simulate.SimulationArguments(**common, class_prior=True, prior_fade=10))
    prior_only = simulate.run(train, test, simulate.SimulationArguments(**common, class_prior=True, prior_fade=1000))
    assert fading["config"]["prior_fade"] == 10
    # The k-means cold start, not the class-covering one: scored on 6 labels, then 12.
    assert [s["n_labels"] for s in fading["steps"]] == [6, 12]
    data = simulate.LabeledData.prepare(train, test)
    prior = (data.test_vectors @ data.class_vectors.T).argmax(1)
    from core.learning import evaluation
    assert prior_only["steps"][0]["accuracy"] == pytest.approx(evaluation.scores(data.y_test, prior)["accuracy"], abs=0.02)
    assert plain["steps"][0]["accuracy"] != fading["steps"][0]["accuracy"] or \
        plain["steps"][0]["macro_f1"] != fading["steps"][0]["macro_f1"]


def test_simulate_cli_uses_the_class_names_unless_told_not_to(tmp_path, data_dir):
    dataset("trec6", "train", 300).to_csv(tmp_path / "train.csv", index=False)
    dataset("trec6", "test", 100).to_csv(tmp_path / "test.csv", index=False)
    base = [sys.executable, "-m", "core", "simulate", "--train", str(tmp_path / "train.csv"),
            "--test", str(tmp_path / "test.csv"), "--init", "10", "--batch", "5", "--rounds", "1"]
    for flag, expected in (([], True), (["--no-class-names"], False)):
        out = tmp_path / f"{expected}.json"
        result = subprocess.run(base + flag + ["--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stderr
        assert json.loads(out.read_text())["config"]["head"]["class_names"] is expected
