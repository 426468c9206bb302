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


def test_per_label_margin_gives_each_label_a_turn_rarest_label_first():
    # label 0 is uncertain on many texts, label 1 (no labeled positives yet) on one: min_margin would
    # spend the whole batch on label 0; per_label_margin's first pick goes to label 1's nearest text
    probs = np.array([[0.50, 0.02], [0.51, 0.02], [0.49, 0.03], [0.52, 0.01], [0.05, 0.40]])
    t = np.array([0.5, 0.5])
    by_margin, _ = ml.rank("min_margin", probs, t, np.arange(5), 2, np.random.default_rng(0))
    assert 4 not in by_margin.tolist()
    rows, scores = ml.rank("per_label_margin", probs, t, np.arange(5), 2, np.random.default_rng(0),
                           label_counts=np.array([12, 0]))
    assert rows.tolist() == [4, 0]  # label 1's turn first (fewest positives), then label 0's nearest text
    assert np.allclose(scores, [-0.10, 0.0])
    # candidates are rows of the whole matrix; a batch never repeats a text, and fills up when asked for all
    rows, _ = ml.rank("per_label_margin", probs, t, np.array([1, 3, 4]), 5, np.random.default_rng(0))
    assert sorted(rows.tolist()) == [1, 3, 4]


def test_per_label_margin_passes_over_near_duplicates():
    probs = np.array([[0.50, 0.1], [0.50, 0.1], [0.45, 0.1], [0.1, 0.45]])
    vectors = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)  # rows 0 and 1: the same text
    rows, _ = ml.rank("per_label_margin", probs, np.array([0.5, 0.5]), np.arange(4), 3, np.random.default_rng(0),
                      label_counts=np.array([5, 5]), embeddings=vectors)
    assert rows.tolist() == [0, 3, 2]
    rows, _ = ml.rank("per_label_margin", probs, np.array([0.5, 0.5]), np.arange(4), 3, np.random.default_rng(0),
                      label_counts=np.array([5, 5]))
    assert rows.tolist() == [0, 3, 1]  # without embeddings the copy is not seen


def test_stopping_figures_for_label_sets():
    from sklearn.metrics import cohen_kappa_score

    t = np.array([0.3, 0.5])
    assert ml.pool_uncertainty(np.array([[0.0, 1.0], [1.0, 0.0]]), t) == 0.0  # every decision certain
    assert ml.pool_uncertainty(np.array([[0.3, 0.5]]), t) == 1.0  # every label on its threshold
    assert abs(ml.pool_uncertainty(np.array([[0.65, 0.25]]), t) - 0.5) < 1e-9  # halfway on each side
    rng = np.random.default_rng(0)
    old = rng.random((50, 3)) < 0.3
    new = old.copy()
    new[:5, 0] = ~new[:5, 0]
    assert ml.set_agreement(old, old) == 1.0
    expected = (cohen_kappa_score(old[:, 0], new[:, 0]) + 2) / 3
    assert abs(ml.set_agreement(old, new) - expected) < 1e-12


def test_eval_intervals_stay_honest_on_few_texts():
    """A new user's trial: "F1 1, 95 % CI 1.00-1.00" for a label on 3 eval texts, and micro/macro-F1 and
    subset accuracy 1.000 with a zero-width interval from 2 eval texts: every bootstrap draw scored
    alike. Each interval is now no narrower than a proportion's Wilson interval on those texts."""
    from core.learning.evaluation import wilson_interval

    Y = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 0]])
    figures = ml.eval_figures(Y, Y.copy(), ["a", "b", "c"], n_boot=200)  # every label right on every text
    for key in ("eval_micro_f1", "eval_macro_f1", "eval_subset_accuracy"):
        assert figures[key] == 1.0
        low, high = figures[key + "_ci"]
        assert high == 1.0 and low <= wilson_interval(3, 3)[0] < 0.6, (key, low)
    a, b, c = figures["eval_per_label"]
    assert a["support"] == 3 and a["ci"][0] <= wilson_interval(3, 3)[0]
    assert b["support"] == 1 and b["ci"][0] <= wilson_interval(1, 1)[0]
    assert c["support"] == 0 and c["ci"] == [0.0, 1.0]  # no eval text has it: nothing is known
    wide = ml.eval_figures(np.tile(Y, (40, 1)), np.tile(np.array([[1, 0, 0], [0, 0, 0], [1, 0, 0]]), (40, 1)),
                           ["a", "b", "c"], n_boot=200)
    low, high = wide["eval_micro_f1_ci"]
    assert 0.0 < low < wide["eval_micro_f1"] < high < 1.0
