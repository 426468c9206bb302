"""Multi-label heads, thresholds, strategies and figures (core.learning.multilabel, issue 21)."""
import numpy as np

from core.learning import multilabel as ml


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0.3, X[:, 1] > 1.0, (X[:, 0] + X[:, 2]) > 0.5], 1).astype(np.uint8)
    return X, Y


def test_heads_learn_and_thresholds_are_tuned_per_label(tmp_path):
    X, Y = _data()
    model = ml.fit(X, Y, ["a", "b", "c"])
    test_X, test_Y = _data(400, seed=1)
    assert ml.scores(test_Y, model.predict(test_X))["micro_f1"] > 0.8
    assert model.thresholds.shape == (3,) and all(0.05 <= t <= 0.95 for t in model.thresholds)
    model.save(tmp_path)
    again = ml.MultiLabelHead.load(tmp_path)
    assert (again.predict(test_X) == model.predict(test_X)).all()


def test_a_label_without_positives_is_never_predicted():
    X, Y = _data()
    Y[:, 1] = 0
    model = ml.fit(X, Y, ["a", "b", "c"])
    assert model.predict(X)[:, 1].sum() == 0


def test_threshold_tuning_finds_the_f1_best_cut():
    probs = np.array([[0.1], [0.2], [0.3], [0.35], [0.9]])
    Y = np.array([[0], [0], [1], [1], [1]])
    assert ml.tune_thresholds(probs, Y)[0] == 0.3  # 0.25 and 0.3 both separate them: the one nearer 0.5


def test_figures():
    Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    P = np.array([[1, 0], [0, 0], [1, 1], [0, 0]])
    s = ml.scores(Y, P)
    assert s["hamming_loss"] == 1 / 8 and s["subset_accuracy"] == 0.75
    assert abs(s["micro_f1"] - 2 * 3 / (2 * 3 + 0 + 1)) < 1e-9
    figures = ml.eval_figures(Y, P, ["a", "b"], n_boot=50)
    assert figures["eval_per_label"][0]["f1"] == 1.0 and figures["eval_n"] == 4
    low, high = figures["eval_micro_f1_ci"]
    assert low <= s["micro_f1"] <= high


def test_strategies_rank_the_uncertain_first():
    probs = np.array([[0.9, 0.1], [0.52, 0.1], [0.1, 0.01], [0.4, 0.6]])
    t = np.array([0.5, 0.5])
    rows, _ = ml.rank("min_margin", probs, t, np.arange(4), 2, np.random.default_rng(0))
    assert rows.tolist() == [1, 3]
    rows, _ = ml.rank("mean_entropy", probs, t, np.arange(4), 1, np.random.default_rng(0))
    assert rows.tolist() == [3]
    rows, _ = ml.rank("cardinality", probs, t, np.arange(4), 1, np.random.default_rng(0), mean_cardinality=2.0)
    assert rows.tolist() == [2]  # predicts no label where texts have two
