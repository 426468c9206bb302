"""How good a version is: cross-validated figures on its training labels, and eval-split accuracy."""
from __future__ import annotations

import numpy as np

from core.classifiers import head


def scores(true: np.ndarray, predicted: np.ndarray) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(true, predicted)),
            "macro_f1": float(f1_score(true, predicted, average="macro", zero_division=0))}


def cross_validate(embeddings: np.ndarray, label_ids: np.ndarray, args: head.HeadArguments | None = None,
                   max_folds: int = 5, seed: int = 0, unlabeled: np.ndarray | None = None) -> dict:
    """Stratified k-fold accuracy and macro-F1 of the head; empty when there are too few labels.

    Classes with a single label are kept in every training fold (they cannot be split).
    `unlabeled` (pool embeddings) lets each fold self-train as the deployed head does.
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
        model = head.fit(embeddings[train_rows], label_ids[train_rows], args, unlabeled=unlabeled)
        predicted[test] = model.predict(np.asarray(embeddings[rows[test]], dtype=np.float32))
    result = scores(label_ids[rows], predicted)
    return {"cv_accuracy": result["accuracy"], "cv_macro_f1": result["macro_f1"], "cv_folds": folds}
