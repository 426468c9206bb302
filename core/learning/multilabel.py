"""Multi-label models (issue 21): one-vs-rest logistic heads on the cached embeddings, per-label
thresholds, multi-label strategies and figures.

The model is plain arrays: `coef` (labels x dim), `intercept`, `thresholds`, the class names;
a text's label set is every label with sigmoid(x . coef_j + intercept_j) >= threshold_j, x the
encoder's L2-normalised embedding. Saved as JSON (`head_multilabel.json`, no pickle), so the
exported model loads outside Sieve with numpy and sentence-transformers (loader in the card).

Thresholds are tuned on the project's own labels by cross-validation (out-of-fold
probabilities, the F1-best threshold per label), never on the eval sample the figures report.
A label with too few positives to tune keeps 0.5.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEAD_JSON = "head_multilabel.json"
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)
MIN_POSITIVES_TO_TUNE = 3
DEFAULT_C = 4.0
STRATEGIES = ("mean_entropy", "min_margin", "cardinality", "random")
DEFAULT_STRATEGY = "min_margin"  # chosen on a debtags validation split (docs/benchmarks.md, "Multi-label")


@dataclass
class MultiLabelHead:
    classes: list[str]
    coef: np.ndarray  # labels x dim, float64
    intercept: np.ndarray  # labels
    thresholds: np.ndarray  # labels

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        return sigmoid(np.asarray(embeddings, dtype=np.float64) @ self.coef.T + self.intercept)

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        """Texts x labels 0/1."""
        return (self.probabilities(embeddings) >= self.thresholds).astype(np.uint8)

    def to_dict(self) -> dict:
        return {"format": "sieve-multilabel-ovr/1", "classes": list(self.classes), "coef": self.coef.tolist(),
                "intercept": self.intercept.tolist(), "thresholds": self.thresholds.tolist(),
                "normalize_embeddings": True}

    def save(self, directory: Path) -> None:
        (Path(directory) / HEAD_JSON).write_text(json.dumps(self.to_dict()))

    @classmethod
    def load(cls, directory: Path) -> "MultiLabelHead":
        d = json.loads((Path(directory) / HEAD_JSON).read_text())
        return cls(d["classes"], np.asarray(d["coef"], dtype=np.float64), np.asarray(d["intercept"], dtype=np.float64),
                   np.asarray(d["thresholds"], dtype=np.float64))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def _with_examples(X: np.ndarray, Y: np.ndarray, class_examples: np.ndarray | None):
    """Each class's embedded name joins the labels as a text with that one label (core.learning.class_examples)."""
    if class_examples is None:
        return X, Y
    return np.vstack([X, class_examples]), np.vstack([Y, np.eye(Y.shape[1], dtype=Y.dtype)])


def fit_weights(X: np.ndarray, Y: np.ndarray, C: float = DEFAULT_C,
                class_examples: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(coef, intercept) of one balanced logistic regression per label. A label with no positive
    (or no negative) gets a constant: the log-odds of its share, so it is (never) predicted."""
    from sklearn.linear_model import LogisticRegression

    X, Y = _with_examples(np.asarray(X, dtype=np.float32), np.asarray(Y, dtype=np.uint8), class_examples)
    coef = np.zeros((Y.shape[1], X.shape[1]))
    intercept = np.zeros(Y.shape[1])
    for j in range(Y.shape[1]):
        positives = int(Y[:, j].sum())
        if positives == 0 or positives == len(Y):
            share = min(max(positives / len(Y), 1e-4), 1 - 1e-4)
            intercept[j] = np.log(share / (1 - share))
            continue
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=1000)
        model.fit(X, Y[:, j])
        coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
    return coef, intercept


def out_of_fold(X: np.ndarray, Y: np.ndarray, folds: int = 5, C: float = DEFAULT_C,
                class_examples: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities of every labeled text (each fold's head never saw it)."""
    from sklearn.model_selection import KFold

    probs = np.zeros(Y.shape, dtype=np.float64)
    k = max(2, min(folds, len(Y)))
    for train, test in KFold(k, shuffle=True, random_state=seed).split(X):
        coef, intercept = fit_weights(X[train], Y[train], C, class_examples)
        probs[test] = sigmoid(np.asarray(X[test], dtype=np.float64) @ coef.T + intercept)
    return probs


def tune_thresholds(probs: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Per label, the grid threshold with the best F1 on out-of-fold probabilities (ties: the one
    nearest 0.5); 0.5 for a label with fewer than MIN_POSITIVES_TO_TUNE positives."""
    out = np.full(Y.shape[1], 0.5)
    for j in range(Y.shape[1]):
        if Y[:, j].sum() < MIN_POSITIVES_TO_TUNE:
            continue
        truth = Y[:, j].astype(bool)
        best = (-1.0, 0.0)
        for t in THRESHOLD_GRID:
            pred = probs[:, j] >= t
            tp = float((pred & truth).sum())
            f1 = 2 * tp / max(pred.sum() + truth.sum(), 1)
            key = (round(f1, 12), -abs(t - 0.5))
            if key > best:
                best, out[j] = key, t
    return out


def fit(X: np.ndarray, Y: np.ndarray, classes: list[str], C: float = DEFAULT_C,
        class_examples: np.ndarray | None = None, folds: int = 5, seed: int = 0) -> MultiLabelHead:
    """The head on every label, with thresholds tuned by `folds`-fold cross-validation on the same labels."""
    X = np.asarray(X, dtype=np.float32)
    Y = np.asarray(Y, dtype=np.uint8)
    coef, intercept = fit_weights(X, Y, C, class_examples)
    thresholds = tune_thresholds(out_of_fold(X, Y, folds, C, class_examples, seed), Y) if len(Y) >= 10 \
        else np.full(Y.shape[1], 0.5)
    return MultiLabelHead(list(classes), coef, intercept, thresholds)


# ---------------------------------------------------------------- strategies


def uncertainty(strategy: str, probs: np.ndarray, thresholds: np.ndarray, mean_cardinality: float) -> np.ndarray:
    """Higher = more worth labeling.
    mean_entropy: the mean binary entropy over labels; min_margin: minus the smallest distance of
    any label's probability to its threshold (the text nearest a decision); cardinality: how far
    the predicted number of labels is from the labeled texts' mean (label-cardinality
    inconsistency), mean entropy breaking ties."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-9, 1 - 1e-9)
    entropy = -(p * np.log2(p) + (1 - p) * np.log2(1 - p)).mean(1)
    if strategy == "mean_entropy":
        return entropy
    if strategy == "min_margin":
        return -np.abs(p - thresholds).min(1)
    if strategy == "cardinality":
        return np.abs((p >= thresholds).sum(1) - mean_cardinality) + 1e-3 * entropy
    raise ValueError(f"Unknown multi-label strategy {strategy!r}; use one of {', '.join(STRATEGIES)}.")


def rank(strategy: str, probs: np.ndarray, thresholds: np.ndarray, candidates: np.ndarray, size: int,
         rng: np.random.Generator, mean_cardinality: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(candidate rows, scores) best first, at most `size`."""
    if len(candidates) == 0:
        return candidates, np.zeros(0)
    if strategy == "random":
        chosen = rng.permutation(candidates)[:size]
        return chosen, np.zeros(len(chosen))
    scores = uncertainty(strategy, probs[candidates], thresholds, mean_cardinality)
    order = np.argsort(-scores, kind="stable")[:size]
    return candidates[order], scores[order]


# ---------------------------------------------------------------- figures


def _f1(tp, fp, fn):
    return np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)


def scores(Y: np.ndarray, P: np.ndarray) -> dict:
    """micro/macro F1 (macro over labels with a positive in Y), Hamming loss, subset accuracy."""
    Y, P = np.asarray(Y, dtype=bool), np.asarray(P, dtype=bool)
    tp, fp, fn = (Y & P).sum(0), (~Y & P).sum(0), (Y & ~P).sum(0)
    present = Y.sum(0) > 0
    per = _f1(tp, fp, fn)
    return {"micro_f1": float(_f1(tp.sum(), fp.sum(), fn.sum())),
            "macro_f1": float(per[present].mean()) if present.any() else 0.0,
            "hamming_loss": float((Y != P).mean()), "subset_accuracy": float((Y == P).all(1).mean())}


def eval_figures(Y: np.ndarray, P: np.ndarray, classes: list[str], n_boot: int = 1000, seed: int = 0) -> dict:
    """`scores` on the eval sample with 95 % bootstrap intervals (texts resampled), and per-label F1
    with its interval and support."""
    Y, P = np.asarray(Y, dtype=bool), np.asarray(P, dtype=bool)
    point = scores(Y, P)
    rng = np.random.default_rng(seed)
    draws = {k: [] for k in point}
    per_draws = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(Y), len(Y))
        s = scores(Y[idx], P[idx])
        for k in point:
            draws[k].append(s[k])
        y, p = Y[idx], P[idx]
        per_draws.append(_f1((y & p).sum(0), (~y & p).sum(0), (y & ~p).sum(0)))
    out = {f"eval_{k}": v for k, v in point.items()}
    out.update({f"eval_{k}_ci": [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in draws.items()})
    per = _f1((Y & P).sum(0), (~Y & P).sum(0), (Y & ~P).sum(0))
    lo, hi = np.percentile(np.array(per_draws), [2.5, 97.5], axis=0)
    out["eval_per_label"] = [{"label": c, "f1": float(per[j]), "ci": [float(lo[j]), float(hi[j])],
                              "support": int(Y[:, j].sum())} for j, c in enumerate(classes)]
    out["eval_n"] = int(len(Y))
    return out
