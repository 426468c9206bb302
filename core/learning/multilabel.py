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
STRATEGIES = ("per_label_margin", "mean_entropy", "min_margin", "cardinality", "random")
DEFAULT_STRATEGY = "per_label_margin"  # chosen on a debtags validation split (docs/benchmarks.md, "Multi-label")
NEAR_DUPLICATE = 0.9  # cosine above which a text counts as a repeat of one already in the batch


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


def per_label_margin(probs: np.ndarray, thresholds: np.ndarray, candidates: np.ndarray, size: int,
                     label_counts: np.ndarray | None = None, embeddings: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Labels take turns, the label with the fewest labeled positives first: each turn adds the
    candidate nearest that label's threshold, so every label's boundary is refined and a batch is
    spread over the labels instead of piling onto the few labels the model is least sure of
    (per-label selection in the spirit of Brinker 2006 and Esuli & Sebastiani 2009; min_margin
    takes the single nearest label of each text). A candidate within NEAR_DUPLICATE cosine of one
    already chosen is passed over when `embeddings` (of all rows) are given. Scores: minus the
    distance to the threshold of the label whose turn chose the text."""
    p = np.asarray(probs[candidates], dtype=np.float64)
    distance = np.abs(p - np.asarray(thresholds, dtype=np.float64))
    n_labels = p.shape[1]
    counts = np.zeros(n_labels) if label_counts is None else np.asarray(label_counts, dtype=np.float64)
    turn_order = np.argsort(counts, kind="stable")
    size = min(size, len(candidates))
    depth = min(len(candidates), 3 * size + 1)  # each label's nearest texts; turns rarely reach deeper
    nearest = np.argpartition(distance, depth - 1, axis=0)[:depth] if depth < len(candidates) \
        else np.tile(np.arange(len(candidates))[:, None], (1, n_labels))
    nearest = np.take_along_axis(nearest, np.argsort(np.take_along_axis(distance, nearest, 0), 0, kind="stable"), 0)
    taken = np.zeros(len(candidates), dtype=bool)
    pointer = np.zeros(n_labels, dtype=np.int64)
    chosen, scores, chosen_vectors = [], [], []
    while len(chosen) < size and (pointer < depth).any():
        for j in turn_order:
            while pointer[j] < depth:
                i = nearest[pointer[j], j]
                pointer[j] += 1
                if taken[i]:
                    continue
                taken[i] = True
                if embeddings is not None:
                    vector = np.asarray(embeddings[candidates[i]], dtype=np.float32)
                    if chosen_vectors and float((np.stack(chosen_vectors) @ vector).max()) > NEAR_DUPLICATE:
                        continue
                    chosen_vectors.append(vector)
                chosen.append(int(i))
                scores.append(-float(distance[i, j]))
                break
            if len(chosen) >= size:
                break
    if len(chosen) < size:  # every label's nearest texts used up: the rest by min_margin
        rest = np.flatnonzero(~np.isin(np.arange(len(candidates)), chosen))
        fill = rest[np.argsort(distance[rest].min(1), kind="stable")][: size - len(chosen)]
        chosen += fill.tolist()
        scores += (-distance[fill].min(1)).tolist()
    return candidates[np.asarray(chosen, dtype=np.int64)], np.asarray(scores)


def rank(strategy: str, probs: np.ndarray, thresholds: np.ndarray, candidates: np.ndarray, size: int,
         rng: np.random.Generator, mean_cardinality: float = 1.0, label_counts: np.ndarray | None = None,
         embeddings: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(candidate rows, scores) best first, at most `size`. `label_counts`: labeled positives per
    label; `embeddings`: of all rows (per_label_margin passes over near-duplicates with them)."""
    if len(candidates) == 0:
        return candidates, np.zeros(0)
    if strategy == "random":
        chosen = rng.permutation(candidates)[:size]
        return chosen, np.zeros(len(chosen))
    if strategy == "per_label_margin":
        return per_label_margin(probs, thresholds, candidates, size, label_counts, embeddings)
    scores = uncertainty(strategy, probs[candidates], thresholds, mean_cardinality)
    order = np.argsort(-scores, kind="stable")[:size]
    return candidates[order], scores[order]


# ---------------------------------------------------------------- stopping


def pool_uncertainty(probs: np.ndarray, thresholds: np.ndarray) -> float:
    """Mean over texts and labels of each label decision's uncertainty: 1 at its threshold, 0 at
    certainty (probability 0 or 1), scaled on each side of the threshold. The multi-label
    counterpart of the single-label mean (1 - top probability), read against the same stopping
    threshold (core.learning.stopping): 0.1 means the average label decision is 90 % of the way
    from its threshold to certainty. (The least-sure label of each text stayed near 0.6-0.9 on
    debtags at every label count, so it could never signal a stop.)"""
    if len(probs) == 0:
        return 0.0
    p, t = np.asarray(probs, dtype=np.float64), np.asarray(thresholds, dtype=np.float64)
    room = np.where(p >= t, 1.0 - t, t)
    return float(np.mean(1.0 - np.abs(p - t) / np.maximum(room, 1e-9)))


def set_agreement(old: np.ndarray, new: np.ndarray) -> float:
    """Mean Cohen's kappa over labels between two versions' 0/1 predictions on the same texts
    (Bloodgood & Vijay-Shanker's stabilizing predictions, per label). A label both versions predict
    the same way everywhere agrees fully (kappa 1); a label that one version never predicts and the
    other does on some texts scores its kappa, 0."""
    from sklearn.metrics import cohen_kappa_score

    old, new = np.asarray(old, dtype=np.uint8), np.asarray(new, dtype=np.uint8)
    kappas = []
    for j in range(old.shape[1]):
        a, b = old[:, j], new[:, j]
        kappa = 1.0 if (a == b).all() else float(cohen_kappa_score(a, b, labels=[0, 1]))
        kappas.append(0.0 if np.isnan(kappa) else kappa)
    return float(np.mean(kappas)) if kappas else 1.0


# ---------------------------------------------------------------- figures


def _f1(tp, fp, fn):
    return np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)


def per_label_f1(Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Each label's F1 (0 for a label with neither positives nor predictions)."""
    Y, P = np.asarray(Y, dtype=bool), np.asarray(P, dtype=bool)
    return _f1((Y & P).sum(0), (~Y & P).sum(0), (Y & ~P).sum(0))


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
    for k, v in draws.items():
        low, high = float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))
        if k != "hamming_loss":  # a share of texts (or of their labels): no surer than a proportion on these texts
            low, high = _no_narrower_than_wilson(point[k], low, high, len(Y))
        out[f"eval_{k}_ci"] = [low, high]
    per = _f1((Y & P).sum(0), (~Y & P).sum(0), (Y & ~P).sum(0))
    lo, hi = np.percentile(np.array(per_draws), [2.5, 97.5], axis=0)
    support = Y.sum(0)
    out["eval_per_label"] = [{"label": c, "f1": float(per[j]),
                              "ci": list(_no_narrower_than_wilson(float(per[j]), float(lo[j]), float(hi[j]), int(support[j]))),
                              "support": int(support[j])} for j, c in enumerate(classes)]
    out["eval_n"] = int(len(Y))
    return out


def _no_narrower_than_wilson(figure: float, low: float, high: float, n: int) -> tuple[float, float]:
    """A bootstrap interval joined with the Wilson interval of a proportion `figure` on `n` texts.
    When every draw scores alike (all right: 1.00-1.00; a label on 3 eval texts) the percentile
    interval shrinks to a point; an F1 over n texts (or a label's n positives) is no surer than a
    proportion on them (as for single-label macro-F1, core.learning.evaluation). n = 0: [0, 1]."""
    from core.learning.evaluation import wilson_interval

    if n <= 0:
        return 0.0, 1.0
    w_low, w_high = wilson_interval(int(round(figure * n)), n)
    return min(low, w_low), max(high, w_high)
