"""How good a version is: cross-validated figures on its training labels, and eval-split accuracy."""
from __future__ import annotations

import numpy as np

from core.learning.classifiers import head


def scores(true: np.ndarray, predicted: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(true, predicted)),
            "macro_f1": float(f1_score(true, predicted, average="macro", zero_division=0))}


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion: sound at small n and near 0 or 1, where the
    normal approximation is not (Brown, Cai & DasGupta 2001)."""
    if n == 0:
        return 0.0, 1.0
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


MIN_BOOTSTRAP_N = 10  # below this a bootstrap interval is degenerate (e.g. 1.00-1.00 from two texts)


def eval_figures(true: np.ndarray, predicted: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """Accuracy and macro-F1 on the random eval sample, each with a 95 % interval: Wilson for
    accuracy (sound from one text on), a percentile bootstrap over the eval texts for macro-F1
    (only from MIN_BOOTSTRAP_N texts on: with fewer it claims a certainty it does not have), never
    narrower than accuracy's interval (`_at_least_as_wide`)."""
    figures = scores(true, predicted)
    low, high = wilson_interval(int((true == predicted).sum()), len(true))
    out = {"eval_accuracy": figures["accuracy"], "eval_accuracy_low": low, "eval_accuracy_high": high,
           "eval_macro_f1": figures["macro_f1"], "eval_n": int(len(true))}
    if len(true) >= MIN_BOOTSTRAP_N:
        draws = np.random.default_rng(seed).integers(0, len(true), size=(n_boot, len(true)))
        f1_low, f1_high = np.percentile(_macro_f1_rows(true[draws], predicted[draws]), [2.5, 97.5])
        f1_low, f1_high = _at_least_as_wide(float(f1_low), float(f1_high), figures["macro_f1"],
                                            figures["accuracy"], low, high)
        out.update(eval_macro_f1_low=f1_low, eval_macro_f1_high=f1_high)
    return out


def _at_least_as_wide(f1_low: float, f1_high: float, f1: float, accuracy: float, low: float,
                      high: float) -> tuple[float, float]:
    """The macro-F1 interval, widened where it is narrower than accuracy's Wilson interval on the
    same texts. Macro-F1 averages per-class figures, each on fewer texts, so it is no surer than
    accuracy; yet when every bootstrap draw scores alike (a perfect score: every draw is 1.0) the
    percentile interval shrinks to a point, 1.00-1.00 from 30 texts. The floor is accuracy's
    interval moved onto the macro-F1 (the same distances below and above, kept inside [0, 1] by
    shifting), joined with the bootstrap interval. A bootstrap interval at least as wide is kept."""
    if f1_high - f1_low >= high - low:
        return f1_low, f1_high
    floor_low, floor_high = f1 - (accuracy - low), f1 + (high - accuracy)
    if floor_high > 1.0:
        floor_low, floor_high = floor_low - (floor_high - 1.0), 1.0
    if floor_low < 0.0:
        floor_low, floor_high = 0.0, min(1.0, floor_high - floor_low)
    return min(f1_low, floor_low), max(f1_high, floor_high)


def _macro_f1_rows(true: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Macro-F1 of each row of (draws, n) label arrays at once, as scikit-learn's `f1_score(average=
    "macro", zero_division=0)` computes it (over the classes present in either), without a loop."""
    k = int(max(true.max(), predicted.max())) + 1
    rows = np.arange(len(true))[:, None] * k * k
    confusion = np.bincount((rows + true * k + predicted).ravel(), minlength=len(true) * k * k).reshape(-1, k, k)
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    support, guessed = confusion.sum(2), confusion.sum(1)
    denominator = support + guessed
    f1 = np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
    return f1.sum(1) / np.maximum((denominator > 0).sum(1), 1)


def cross_validate(embeddings: np.ndarray, label_ids: np.ndarray, args: head.HeadArguments | None = None,
                   max_folds: int = 5, seed: int = 0, unlabeled: np.ndarray | None = None,
                   class_examples: np.ndarray | None = None) -> dict:
    """Stratified k-fold accuracy and macro-F1 of the head; empty when there are too few labels.

    Classes with a single label are kept in every training fold (they cannot be split).
    `unlabeled` (pool embeddings) lets each fold self-train as the deployed head does, and
    `class_examples` join every training fold as they join the deployed head's labels.
    """
    from sklearn.model_selection import StratifiedKFold

    classes, counts = np.unique(label_ids, return_counts=True)
    splittable = np.isin(label_ids, classes[counts >= 2])
    folds = min(max_folds, int(counts[counts >= 2].min()) if (counts >= 2).any() else 0)
    if folds < 2 or len(np.unique(label_ids[splittable])) < 2:
        return {}
    rows = np.flatnonzero(splittable)
    always_train = np.flatnonzero(~splittable)
    predicted = np.empty(len(rows), dtype=label_ids.dtype)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(rows, label_ids[rows]):
        train_rows = np.concatenate([rows[train], always_train])
        model = head.fit(embeddings[train_rows], label_ids[train_rows], args, unlabeled=unlabeled,
                         class_examples=class_examples)
        predicted[test] = model.predict(np.asarray(embeddings[rows[test]], dtype=np.float32))
    result = scores(label_ids[rows], predicted)
    return {"cv_accuracy": result["accuracy"], "cv_macro_f1": result["macro_f1"], "cv_folds": folds}
