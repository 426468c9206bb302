"""The fast head: logistic regression on cached sentence embeddings.

Fits in milliseconds on a few hundred labels, so it is refitted after every small batch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class HeadArguments:
    # Embeddings are unit-length, so the default C=1 over-regularises; C=10 was best on
    # trec6/sst2/ag_news at 30-130 labels (see docs/benchmarks.md).
    C: float = 10.0
    class_weight: str | None = "balanced"
    max_iter: int = 1000

    def to_dict(self) -> dict:
        return asdict(self)


def fit(embeddings: np.ndarray, label_ids: np.ndarray, args: HeadArguments | None = None):
    """Fit on the labeled rows; needs at least two distinct classes."""
    from sklearn.linear_model import LogisticRegression

    args = args or HeadArguments()
    if len(np.unique(label_ids)) < 2:
        raise ValueError("A model needs labels of at least two classes.")
    model = LogisticRegression(C=args.C, class_weight=args.class_weight, max_iter=args.max_iter)
    return model.fit(np.asarray(embeddings, dtype=np.float32), label_ids)


def predict_proba(model, embeddings: np.ndarray, n_classes: int, chunk: int = 65_536) -> np.ndarray:
    """Probabilities over all project classes (classes without labels get 0)."""
    out = np.zeros((len(embeddings), n_classes), dtype=np.float32)
    columns = model.classes_.astype(int)
    for start in range(0, len(embeddings), chunk):
        block = np.asarray(embeddings[start:start + chunk], dtype=np.float32)
        out[start:start + len(block), columns] = model.predict_proba(block)
    return out
