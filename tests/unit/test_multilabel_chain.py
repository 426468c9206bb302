"""multi_target_strategy="classifier-chain" (issue 21): each label reads the decisions on the labels before it."""
import numpy as np

from core.learning import multilabel as ml
from core.learning import multilabel_chain as mc


def data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    a = X[:, 0] > 0
    b = a & (X[:, 1] > -0.2)  # b only with a: the chain can lean on a's decision
    c = X[:, 2] > 0.3
    return X, np.stack([a, b, c], axis=1).astype(np.uint8)


def test_the_chain_reads_only_earlier_labels_and_learns_from_them():
    X, Y = data()
    head = mc.fit(X, Y, ["a", "b", "c"])
    assert np.allclose(np.triu(head.chain), 0)  # label j reads labels k < j only
    assert head.chain[1, 0] > 1.0  # b leans on a's decision
    probs = head.probabilities(X)
    assert probs.shape == Y.shape and ((probs >= 0) & (probs <= 1)).all()
    assert (head.predict(X) == (probs >= head.thresholds)).all()
    assert ml.scores(Y, head.predict(X))["micro_f1"] > 0.8


def test_a_chain_without_chain_weights_is_the_one_vs_rest_head():
    X, Y = data(seed=1)
    ovr = ml.fit(X, Y, ["a", "b", "c"])
    as_chain = mc.ChainHead(ovr.classes, ovr.coef, np.zeros((3, 3)), ovr.intercept, ovr.thresholds)
    assert np.array_equal(as_chain.probabilities(X), ovr.probabilities(X))


def test_saved_as_json_and_loaded_by_format(tmp_path):
    X, Y = data(seed=2)
    head = mc.fit(X, Y, ["a", "b", "c"])
    head.save(tmp_path)
    loaded = mc.load_head(tmp_path)
    assert isinstance(loaded, mc.ChainHead) and np.array_equal(loaded.predict(X), head.predict(X))
    other = tmp_path / "ovr"
    other.mkdir()
    ml.fit(X, Y, ["a", "b", "c"]).save(other)
    assert isinstance(mc.load_head(other), ml.MultiLabelHead)


def test_thresholds_are_tuned_in_chain_order_on_unseen_texts():
    X, Y = data(n=200, seed=3)
    coef, chain, intercept = mc.fit_weights(X[:150], Y[:150])
    thresholds = mc.tune_in_order(X[150:].astype(np.float64) @ coef.T + intercept, chain, Y[150:])
    assert thresholds.shape == (3,) and set(thresholds) <= set(ml.THRESHOLD_GRID) | {0.5}
