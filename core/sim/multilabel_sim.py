"""Simulated multi-label labeling (issue 21): a labeled dataset stands in for the annotators, the
app's one-vs-rest heads (`core.learning.multilabel`: thresholds by cross-validation on the labels
so far) learn from what the strategy chose, scored on a test set after every batch.

Cold start: `kmeans` (the app's: texts nearest k-means centroids, typical and diverse) or `random`.
"""
from __future__ import annotations

from dataclasses import dataclass

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


def run(X: np.ndarray, Y: np.ndarray, test_X: np.ndarray, test_Y: np.ndarray, args: Arguments,
        class_examples: np.ndarray | None = None) -> list[dict]:
    """One learning curve: [{labels, micro_f1, macro_f1, hamming_loss, subset_accuracy}, ...]."""
    rng = np.random.default_rng(args.seed)
    everything = np.arange(len(X))
    if args.cold_start == "kmeans":
        labeled = strategies.kmeans(None, X, everything, args.initial, rng).indices
    else:
        labeled = rng.choice(everything, args.initial, replace=False)
    labeled = np.asarray(labeled, dtype=np.int64)
    curve = []
    while True:
        model = ml.fit(X[labeled], Y[labeled], [str(j) for j in range(Y.shape[1])], class_examples=class_examples,
                       seed=args.seed)
        curve.append({"labels": int(len(labeled)), **ml.scores(test_Y, model.predict(test_X))})
        if len(labeled) >= args.budget:
            return curve
        candidates = np.setdiff1d(everything, labeled)
        size = min(args.step, args.budget - len(labeled))
        chosen, _ = ml.rank(args.strategy, model.probabilities(X), model.thresholds, candidates, size, rng,
                            float(Y[labeled].sum(1).mean()))
        labeled = np.concatenate([labeled, chosen])
