"""A classifier chain over the labels (multi_target_strategy="classifier-chain", issue 21), as
scikit-learn's ClassifierChain in SetFit, kept as plain arrays.

Label j's logistic regression reads the text's embedding and the 0/1 decisions on the labels
before it (the class list's order): p_j = sigmoid(x . coef_j + sum_{k<j} chain_jk d_k + b_j),
d_k = p_k >= threshold_k. It trains on the true labels of the earlier labels (ClassifierChain's
default) and decides with the tuned thresholds (ClassifierChain uses 0.5). Thresholds are tuned
in chain order on probabilities of texts the weights never saw (out-of-fold, or a held-back
slice), each label's from the decisions already tuned before it. Saved as JSON
(`head_multilabel_chain.json`); the exported `predict.py` reads it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.learning import multilabel as ml

HEAD_CHAIN_JSON = "head_multilabel_chain.json"


@dataclass
class ChainHead:
    classes: list[str]
    coef: np.ndarray  # labels x dim
    chain: np.ndarray  # labels x labels, strictly lower triangular
    intercept: np.ndarray
    thresholds: np.ndarray

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        return chain_probabilities(np.asarray(embeddings, dtype=np.float64) @ self.coef.T + self.intercept,
                                   self.chain, self.thresholds)

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        return (self.probabilities(embeddings) >= self.thresholds).astype(np.uint8)

    def to_dict(self) -> dict:
        return {"format": "sieve-multilabel-chain/1", "classes": list(self.classes), "coef": self.coef.tolist(),
                "chain": self.chain.tolist(), "intercept": self.intercept.tolist(),
                "thresholds": self.thresholds.tolist(), "normalize_embeddings": True}

    def save(self, directory: Path) -> None:
        (Path(directory) / HEAD_CHAIN_JSON).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, directory: Path) -> ChainHead:
        d = json.loads((Path(directory) / HEAD_CHAIN_JSON).read_text())
        return cls(d["classes"], np.asarray(d["coef"], dtype=np.float64), np.asarray(d["chain"], dtype=np.float64),
                   np.asarray(d["intercept"], dtype=np.float64), np.asarray(d["thresholds"], dtype=np.float64))


def load_head(directory: Path):
    """The multi-label head a version directory holds: a chain, or one-vs-rest heads."""
    if (Path(directory) / HEAD_CHAIN_JSON).exists():
        return ChainHead.load(directory)
    return ml.MultiLabelHead.load(directory)


def chain_probabilities(z: np.ndarray, chain: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Probabilities from the embedding part `z` (texts x labels), each label adding the earlier decisions."""
    decided = np.zeros(z.shape, dtype=bool)
    probs = np.zeros(z.shape, dtype=np.float64)
    for j in range(z.shape[1]):
        probs[:, j] = ml.sigmoid(z[:, j] + decided[:, :j].astype(np.float64) @ chain[j, :j])
        decided[:, j] = probs[:, j] >= thresholds[j]
    return probs


def fit_weights(X: np.ndarray, Y: np.ndarray, C: float = ml.DEFAULT_C,
                class_examples: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coef, chain, intercept): label j's balanced logistic regression on [x, true labels before j]."""
    X, Y = ml._with_examples(np.asarray(X, dtype=np.float32), np.asarray(Y, dtype=np.uint8), class_examples)
    n_labels, dim = Y.shape[1], X.shape[1]
    coef, chain, intercept = np.zeros((n_labels, dim)), np.zeros((n_labels, n_labels)), np.zeros(n_labels)
    for j in range(n_labels):
        features = np.hstack([X, Y[:, :j].astype(np.float32)])
        w, b = ml.fit_weights(features, Y[:, [j]], C)
        coef[j], chain[j, :j], intercept[j] = w[0, :dim], w[0, dim:], b[0]
    return coef, chain, intercept


def tune_in_order(z: np.ndarray, chain: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Thresholds tuned label by label on unseen texts' embedding parts `z`, the earlier labels decided
    with the thresholds already tuned (ml.tune_thresholds' rule for each)."""
    thresholds = np.full(Y.shape[1], 0.5)
    decided = np.zeros(Y.shape, dtype=bool)
    for j in range(Y.shape[1]):
        p = ml.sigmoid(z[:, j] + decided[:, :j].astype(np.float64) @ chain[j, :j])
        thresholds[j] = ml.tune_thresholds(p[:, None], Y[:, [j]])[0]
        decided[:, j] = p >= thresholds[j]
    return thresholds


def fit(X: np.ndarray, Y: np.ndarray, classes: list[str], C: float = ml.DEFAULT_C,
        class_examples: np.ndarray | None = None, folds: int = 5, seed: int = 0) -> ChainHead:
    """The chain on every label, thresholds tuned in chain order on out-of-fold embedding parts
    (as `multilabel.fit` does for one-vs-rest heads)."""
    from sklearn.model_selection import KFold

    X, Y = np.asarray(X, dtype=np.float32), np.asarray(Y, dtype=np.uint8)
    coef, chain, intercept = fit_weights(X, Y, C, class_examples)
    thresholds = np.full(Y.shape[1], 0.5)
    if len(Y) >= 10:
        z = np.zeros(Y.shape)
        chains = np.zeros((len(Y),) + chain.shape)
        for train, test in KFold(max(2, min(folds, len(Y))), shuffle=True, random_state=seed).split(X):
            c, ch, b = fit_weights(X[train], Y[train], C, class_examples)
            z[test] = X[test].astype(np.float64) @ c.T + b
            chains[test] = ch
        thresholds = _tune_rows(z, chains, Y)
    return ChainHead(list(classes), coef, chain, intercept, thresholds)


def _tune_rows(z: np.ndarray, chains: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """`tune_in_order` where each text has its own fold's chain weights."""
    thresholds = np.full(Y.shape[1], 0.5)
    decided = np.zeros(Y.shape, dtype=bool)
    for j in range(Y.shape[1]):
        p = ml.sigmoid(z[:, j] + np.einsum("nk,nk->n", decided[:, :j].astype(np.float64), chains[:, j, :j]))
        thresholds[j] = ml.tune_thresholds(p[:, None], Y[:, [j]])[0]
        decided[:, j] = p >= thresholds[j]
    return thresholds
