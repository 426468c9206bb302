"""Simulated multi-label labeling (issue 21): a labeled dataset stands in for the annotators, the
app's one-vs-rest heads (`core.learning.multilabel`: thresholds by cross-validation on the labels
so far) learn from what the strategy chose, scored on a test set after every batch.

Cold start: `kmeans` (the app's: texts nearest k-means centroids, typical and diverse) or `random`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.learning import multilabel as ml
from core.learning import strategies


@dataclass(frozen=True)
class Arguments:
    strategy: str = ml.DEFAULT_STRATEGY
    cold_start: str = "kmeans"
    initial: int = 40
    step: int = 40
    budget: int = 200
    seed: int = 0


# Another tool's strategy on the same classifier: (probabilities of every pool text, thresholds,
# candidate rows, labeled rows, their 0/1 labels, batch size) -> the chosen candidate rows.
Chooser = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def run(X: np.ndarray, Y: np.ndarray, test_X: np.ndarray, test_Y: np.ndarray, args: Arguments,
        class_examples: np.ndarray | None = None, chooser: Chooser | None = None) -> list[dict]:
    """One learning curve: [{labels, micro_f1, macro_f1, hamming_loss, subset_accuracy, per_label_f1,
    mean_uncertainty, kappa_previous}, ...]. The stopping figures are the app's (computed on the
    pool, as the worker does): the unlabeled texts' uncertainty and the per-label kappa of the pool
    predictions against the step before (None at the first step)."""
    rng = np.random.default_rng(args.seed)
    everything = np.arange(len(X))
    if args.cold_start == "kmeans":
        labeled = strategies.kmeans(None, X, everything, args.initial, rng).indices
    else:
        labeled = rng.choice(everything, args.initial, replace=False)
    labeled = np.asarray(labeled, dtype=np.int64)
    curve, previous = [], None
    while True:
        model = ml.fit(X[labeled], Y[labeled], [str(j) for j in range(Y.shape[1])], class_examples=class_examples,
                       seed=args.seed)
        probs = model.probabilities(X)
        predicted = probs >= model.thresholds
        candidates = np.setdiff1d(everything, labeled)
        test_P = model.predict(test_X)
        curve.append({"labels": int(len(labeled)), **ml.scores(test_Y, test_P),
                      "per_label_f1": ml.per_label_f1(test_Y, test_P).round(4).tolist(),
                      "mean_uncertainty": ml.pool_uncertainty(probs[candidates], model.thresholds),
                      "kappa_previous": None if previous is None else ml.set_agreement(previous, predicted)})
        previous = predicted
        if len(labeled) >= args.budget or len(candidates) == 0:
            return curve
        size = min(args.step, args.budget - len(labeled))
        if chooser is not None:
            chosen = np.asarray(chooser(probs, model.thresholds, candidates, labeled, Y[labeled], size), dtype=np.int64)
        else:
            chosen, _ = ml.rank(args.strategy, probs, model.thresholds, candidates, size, rng,
                                float(Y[labeled].sum(1).mean()), label_counts=Y[labeled].sum(0), embeddings=X)
        labeled = np.concatenate([labeled, chosen])
