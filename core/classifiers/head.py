"""Heads on sentence embeddings: the fast refit, and the head of an exported SetFit model.

The default is logistic regression (fits in milliseconds on a few hundred labels, so it is
refitted after every small batch). A project may pick another scikit-learn head from an
allow-list; anything with fit / predict / predict_proba works, but only these are offered,
so a project setting can never name arbitrary code.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


def _logistic_regression(**params):
    from sklearn.linear_model import LogisticRegression

    # Embeddings are unit-length, so the default C=1 over-regularises; C=10 with balanced
    # class weights was best on trec6/sst2/ag_news/mr at 30-130 labels (docs/benchmarks.md).
    return LogisticRegression(**{"C": 10.0, "class_weight": "balanced", "max_iter": 1000, **params})


def _random_forest(**params):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**{"n_estimators": 200, "class_weight": "balanced", "random_state": 0, **params})


def _mlp(**params):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(**{"hidden_layer_sizes": (256,), "max_iter": 500, "random_state": 0, **params})


def _knn(**params):
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(**{"n_neighbors": 5, "weights": "distance", "metric": "cosine", **params})


def _linear_svm(**params):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    # cv is set at fit time from the smallest class, so a few labels per class suffice.
    return CalibratedClassifierCV(LinearSVC(**{"C": 1.0, "class_weight": "balanced", **params}), cv=3)


HEADS = {
    "logistic_regression": _logistic_regression,
    "random_forest": _random_forest,
    "mlp": _mlp,
    "knn": _knn,
    "linear_svm": _linear_svm,
}


@dataclass
class HeadArguments:
    kind: str = "logistic_regression"
    params: dict = field(default_factory=dict)  # passed through to the scikit-learn estimator

    def __post_init__(self):
        if self.kind not in HEADS:
            raise ValueError(f"Unknown head {self.kind!r}; choose from {', '.join(HEADS)}.")

    @classmethod
    def logistic(cls, C: float = 10.0, class_weight: str | None = "balanced") -> "HeadArguments":
        return cls("logistic_regression", {"C": C, "class_weight": class_weight})

    def to_dict(self) -> dict:
        return asdict(self)


def build(args: HeadArguments | None = None):
    args = args or HeadArguments()
    return HEADS[args.kind](**args.params)


def fit(embeddings: np.ndarray, label_ids: np.ndarray, args: HeadArguments | None = None):
    """Fit on the labeled rows; needs at least two distinct classes."""
    if len(np.unique(label_ids)) < 2:
        raise ValueError("A model needs labels of at least two classes.")
    args = args or HeadArguments()
    model = build(args)
    if args.kind == "knn":
        model.set_params(n_neighbors=min(model.n_neighbors, len(label_ids)))
    if args.kind == "linear_svm":
        smallest = int(np.bincount(label_ids)[np.unique(label_ids)].min())
        if smallest < 2:  # too few to cross-validate: calibrate the fitted SVM on its own training labels
            from sklearn.calibration import CalibratedClassifierCV
            from sklearn.frozen import FrozenEstimator

            svm = model.estimator.fit(np.asarray(embeddings, dtype=np.float32), label_ids)
            model = CalibratedClassifierCV(FrozenEstimator(svm))
        else:
            model.set_params(cv=min(3, smallest))
    return model.fit(np.asarray(embeddings, dtype=np.float32), label_ids)


def predict_proba(model, embeddings: np.ndarray, n_classes: int, chunk: int = 65_536) -> np.ndarray:
    """Probabilities over all project classes (classes without labels get 0)."""
    out = np.zeros((len(embeddings), n_classes), dtype=np.float32)
    columns = np.asarray(model.classes_).astype(int)
    for start in range(0, len(embeddings), chunk):
        block = np.asarray(embeddings[start:start + chunk], dtype=np.float32)
        out[start:start + len(block), columns] = model.predict_proba(block)
    return out
