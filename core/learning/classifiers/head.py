"""Heads on sentence embeddings: the fast refit, and the head of an exported SetFit model.

The default is logistic regression (fits in milliseconds on a few hundred labels, so it is
refitted after every small batch), self-trained on confident unlabeled pool texts when the
pool is passed. A project may pick another scikit-learn head from an allow-list; anything
with fit / predict / predict_proba works, but only these are offered, so a project setting
can never name arbitrary code.
"""
from __future__ import annotations

import copy
import functools
import json
import warnings
from dataclasses import asdict, dataclass, field, fields

import numpy as np


DEFAULT_C = 10.0


def _logistic_regression(**params):
    from sklearn.linear_model import LogisticRegression

    # C=10 with balanced class weights, self-training and class names as examples had the best
    # mean macro-F1 AUC on the tuning datasets' validation splits (bench/tune_defaults.py,
    # docs/benchmarks.md "Defaults chosen under the protocol"); C=3 and C=1 were within 0.4 points.
    return LogisticRegression(**{"C": DEFAULT_C, "class_weight": "balanced", "max_iter": 1000, **params})


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
    # A fixed random_state makes a refit from the stored training arrays (`load`) the same model.
    return CalibratedClassifierCV(LinearSVC(**{"C": 1.0, "class_weight": "balanced", "random_state": 0, **params}),
                                  cv=3)


HEADS = {
    "logistic_regression": _logistic_regression,
    "random_forest": _random_forest,
    "mlp": _mlp,
    "knn": _knn,
    "linear_svm": _linear_svm,
}


# Many classes with one label each (banking77, clinc150 at a few dozen labels) are normal here.
warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%")

MAX_PSEUDO_CANDIDATES = 20_000  # unlabeled texts scored for pseudo-labels: a sample this large suffices


@dataclass
class HeadArguments:
    kind: str = "logistic_regression"
    params: dict = field(default_factory=dict)  # passed through to the scikit-learn estimator
    self_training: float = 3.0  # pseudo-labels per gold label, from confident pool texts; 0 turns it off
    pseudo_weight: float = 1.0  # sample weight of a pseudo-label (a gold label weighs 1)
    # Keep self-training only where the project's own labels say it helps: cross-validated
    # macro-F1 with and without it, on every fit (see `self_training_helps`). Off by default:
    # on the tuning datasets it did not beat always self-training (docs/benchmarks.md).
    self_training_check: bool = False
    # Pseudo-labels only for classes with at least this many gold labels (0: every class).
    pseudo_min_gold: int = 0
    # Self-train only once every class the head knows has at least this many gold labels (0: always).
    pseudo_start_gold: int = 0
    # At most `self_training` pseudo-labels per gold label of each class: a class keeps the share
    # of the gold labels it has, so a rare class is not swamped by pseudo-labels of a common one.
    pseudo_cap_by_gold: bool = False
    # Each class's name (and description), embedded with the project's encoder, counts as one
    # labeled example of that class: the head knows every class before it has labels of all
    # of them. Chosen on the tuning datasets (+10 points of macro-F1 AUC on their mean, most
    # of it on clinc150; docs/benchmarks.md); `fit` uses it only where given the class examples.
    class_names: bool = True
    # The sample weight of a class's name: `class_name_weight` while the class has no gold
    # label, fading as w(g) = class_name_weight * class_name_fade / (class_name_fade + g) with
    # its gold count g when `class_name_fade` > 0 (0: the same weight at any count, as before).
    class_name_weight: float = 1.0
    class_name_fade: float = 0.0

    def __post_init__(self):
        if self.kind not in HEADS:
            raise ValueError(f"Unknown head {self.kind!r}; choose from {', '.join(HEADS)}.")
        if not 0 <= float(self.self_training) <= 20:
            raise ValueError("self_training must be between 0 (off) and 20 pseudo-labels per label.")
        if not 0 < float(self.pseudo_weight) <= 1:
            raise ValueError("pseudo_weight must be in (0, 1].")
        if not 0 <= int(self.pseudo_min_gold) <= 100 or not 0 <= int(self.pseudo_start_gold) <= 100:
            raise ValueError("pseudo_min_gold and pseudo_start_gold must be between 0 and 100 labels.")
        if not 0 < float(self.class_name_weight) <= 100 or not 0 <= float(self.class_name_fade) <= 1000:
            raise ValueError("class_name_weight must be in (0, 100] and class_name_fade in [0, 1000].")

    @classmethod
    def logistic(cls, C: float = 10.0, class_weight: str | None = "balanced",
                 self_training: float = 3.0) -> "HeadArguments":
        return cls("logistic_regression", {"C": C, "class_weight": class_weight}, self_training)

    @classmethod
    def from_dict(cls, values: dict | None) -> "HeadArguments":
        values = dict(values or {})
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"Unknown head setting(s): {', '.join(unknown)}.")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def build(args: HeadArguments | None = None):
    args = args or HeadArguments()
    return HEADS[args.kind](**args.params)


@functools.cache
def _thread_pools():
    """The loaded BLAS/OpenMP libraries, found once: `threadpool_limits()` looks them up on every
    call, which cost 4.5 ms a refit, a fifth of a whole round on small pools. scikit-learn (and
    with it SciPy's OpenBLAS and its OpenMP) is imported first, or they would be missed."""
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def fit(embeddings: np.ndarray, label_ids: np.ndarray, args: HeadArguments | None = None,
        unlabeled: np.ndarray | None = None, class_examples: np.ndarray | None = None):
    """Fit on the labeled rows; needs at least two distinct classes.

    With `unlabeled` (embeddings of pool texts without a label) the head is self-trained: it is
    fitted, labels its most confident unlabeled texts, and is refitted on both.
    `class_examples` (row i: the embedded name of class i, `with_class_examples`) join the
    labels as one example per class when `args.class_names` is on.
    """
    args = args or HeadArguments()
    known = max(int(np.max(label_ids, initial=-1)) + 1,
                len(class_examples) if args.class_names and class_examples is not None else 0)
    gold = np.bincount(np.asarray(label_ids, dtype=np.int64), minlength=known)  # before the class names join
    n_gold = len(label_ids)
    embeddings, label_ids = with_class_examples(embeddings, label_ids, args, class_examples)
    if len(np.unique(label_ids)) < 2:
        raise ValueError("A model needs labels of at least two classes.")
    weights = example_weights(gold, len(label_ids) - n_gold, n_gold, args)
    # One BLAS/OpenMP thread: on these small problems threads cost more than they give
    # (a 520-label logistic regression took 250 ms with 2 threads, 12 ms with one).
    with _thread_pools().limit(limits=1):
        model = _fit_supervised(embeddings, label_ids, args, sample_weight=weights)
        if unlabeled is None or len(unlabeled) == 0 or not args.self_training or not _takes_sample_weight(model):
            return model
        if args.pseudo_start_gold and gold.min() < args.pseudo_start_gold:
            return model
        if len(unlabeled) > MAX_PSEUDO_CANDIDATES:
            unlabeled = unlabeled[pseudo_label_candidates(len(unlabeled))]
        unlabeled = np.asarray(unlabeled, dtype=np.float32)
        if args.self_training_check:
            check = self_training_helps(embeddings, label_ids, unlabeled, args)
            model.self_training_check_ = check  # read with `self_training_decision`
            if not check["self_train"]:
                return model
        return _self_train(model, embeddings, label_ids, unlabeled, args, gold, weights)


def class_name_weights(gold: np.ndarray, args: HeadArguments) -> np.ndarray:
    """The sample weight of each class's name example, from its class's gold count."""
    weight = np.full(len(gold), float(args.class_name_weight))
    if args.class_name_fade > 0:
        weight *= args.class_name_fade / (args.class_name_fade + np.asarray(gold, dtype=np.float64))
    return weight


def example_weights(gold: np.ndarray, n_names: int, n_gold: int, args: HeadArguments) -> np.ndarray | None:
    """Per-row weights of the rows `with_class_examples` returns (names first), or None where every
    row weighs 1 (the plain fit, unchanged)."""
    if not n_names or (args.class_name_weight == 1.0 and args.class_name_fade == 0):
        return None
    if not _takes_sample_weight(build(args)):  # k-NN: every example counts once
        return None
    return np.concatenate([class_name_weights(gold[:n_names], args), np.ones(n_gold)])


def with_class_examples(embeddings: np.ndarray, label_ids: np.ndarray, args: HeadArguments,
                        class_examples: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The labeled rows, preceded by one example per class (its embedded name) when the
    arguments ask for it and the examples are given."""
    embeddings, label_ids = np.asarray(embeddings, dtype=np.float32), np.asarray(label_ids)
    if not args.class_names or class_examples is None or len(class_examples) == 0:
        return embeddings, label_ids
    examples = np.asarray(class_examples, dtype=np.float32).reshape(-1, embeddings.shape[1])
    return (np.concatenate([examples, embeddings]),
            np.concatenate([np.arange(len(examples), dtype=label_ids.dtype if len(label_ids) else np.int64),
                            label_ids]))


CHECK_FOLDS = 3


def self_training_helps(embeddings: np.ndarray, label_ids: np.ndarray, unlabeled: np.ndarray,
                        args: HeadArguments, seed: int = 0) -> dict:
    """Does self-training help on *this* project? Stratified k-fold (k <= 3) macro-F1 of the
    head fitted on the labels alone and self-trained from the same pool, fold by fold; classes
    with one label stay in every training fold. Self-training is kept unless it scores lower
    (ties and too few labels to split keep it). Costs about two extra fits per fold.

    Self-training's effect differs by data (it helps on some datasets and hurts on others), and
    this asks the project's own labels rather than the dataset's name. With 30-130 labels the
    cross-validated difference is noisy, and on the tuning datasets the check did no better than
    always self-training, so it is off by default (docs/benchmarks.md, "Tuning runs").
    """
    from sklearn.metrics import f1_score
    from sklearn.model_selection import StratifiedKFold

    classes, counts = np.unique(label_ids, return_counts=True)
    splittable = np.isin(label_ids, classes[counts >= 2])
    folds = min(CHECK_FOLDS, int(counts[counts >= 2].min()) if (counts >= 2).any() else 0)
    if folds < 2 or len(np.unique(label_ids[splittable])) < 2:
        return {"self_train": True, "reason": "too few labels to check"}
    rows, always_train = np.flatnonzero(splittable), np.flatnonzero(~splittable)
    plain = np.empty(len(rows), dtype=label_ids.dtype)
    trained = np.empty(len(rows), dtype=label_ids.dtype)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(rows, label_ids[rows]):
        train_rows = np.concatenate([rows[train], always_train])
        if len(np.unique(label_ids[train_rows])) < 2:
            return {"self_train": True, "reason": "too few labels to check"}
        x_test = embeddings[rows[test]]
        supervised = _fit_supervised(embeddings[train_rows], label_ids[train_rows], args)
        plain[test] = supervised.predict(x_test)
        # _self_train refits the logistic regression it is given in place: give it a copy.
        self_trained = _self_train(copy.deepcopy(supervised), embeddings[train_rows], label_ids[train_rows], unlabeled, args)
        trained[test] = self_trained.predict(x_test)
    truth = label_ids[rows]
    without = float(f1_score(truth, plain, average="macro", zero_division=0))
    with_ = float(f1_score(truth, trained, average="macro", zero_division=0))
    return {"self_train": with_ >= without, "cv_macro_f1_with": with_, "cv_macro_f1_without": without,
            "folds": folds}


def _fit_supervised(embeddings: np.ndarray, label_ids: np.ndarray, args: HeadArguments,
                    sample_weight: np.ndarray | None = None, model=None):
    """Fit, and keep what was fitted on with the model, so `save` can store any head as arrays."""
    fitted = _fit_estimator(embeddings, label_ids, args, sample_weight, model)
    fitted.sieve_fit_ = FitRecord(args, embeddings, np.asarray(label_ids), sample_weight)
    return fitted


def _fit_estimator(embeddings: np.ndarray, label_ids: np.ndarray, args: HeadArguments,
                   sample_weight: np.ndarray | None = None, model=None):
    model = build(args) if model is None else model
    if args.kind == "knn":
        model.set_params(n_neighbors=min(model.n_neighbors, len(label_ids)))
    if args.kind == "linear_svm":
        smallest = int(np.bincount(label_ids)[np.unique(label_ids)].min())
        if smallest < 2:  # too few to cross-validate: calibrate the fitted SVM on its own training labels
            from sklearn.calibration import CalibratedClassifierCV
            from sklearn.frozen import FrozenEstimator

            svm = model.estimator.fit(embeddings, label_ids, sample_weight=sample_weight)
            # The frozen SVM has its weights already; calibration on them would ignore them anyway.
            return CalibratedClassifierCV(FrozenEstimator(svm)).fit(embeddings, label_ids)
        else:
            model.set_params(cv=min(3, smallest))
    if sample_weight is None:
        return model.fit(embeddings, label_ids)
    return model.fit(embeddings, label_ids, sample_weight=sample_weight)


def _is_logistic(model) -> bool:
    from sklearn.linear_model import LogisticRegression

    return isinstance(model, LogisticRegression)


def _takes_sample_weight(model) -> bool:
    from sklearn.utils.validation import has_fit_parameter

    return has_fit_parameter(model, "sample_weight")


def pseudo_label_candidates(n_unlabeled: int, limit: int = MAX_PSEUDO_CANDIDATES) -> np.ndarray:
    """Positions (ascending) of the unlabeled texts to score for pseudo-labels: all, or a fixed
    sample of `limit`, so refits are reproducible and a large pool costs no more than 20k texts."""
    if n_unlabeled <= limit:
        return np.arange(n_unlabeled)
    return np.sort(np.random.default_rng(0).choice(n_unlabeled, limit, replace=False))


def pseudo_labels(model, unlabeled: np.ndarray, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows of `unlabeled`, class ids): the model's most confident predictions, `budget` in all.

    Each predicted class gets its share of the budget in proportion to how often it is
    predicted: an equal share per class forced poor pseudo-labels for rare classes (on the
    imbalanced emotion set it cost 2 points of accuracy; docs/results/superseded/).
    """
    probs = model.predict_proba(unlabeled)
    predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
    share = np.bincount(predicted, minlength=probs.shape[1]) / len(predicted)
    rows = []
    for column in np.flatnonzero(share):
        members = np.flatnonzero(predicted == column)
        take = int(round(budget * share[column]))
        rows.append(members[np.argsort(-confidence[members], kind="stable")[:take]])
    rows = np.concatenate(rows)
    return rows, np.asarray(model.classes_)[predicted[rows]]


def enough_gold(rows: np.ndarray, pseudo: np.ndarray, label_ids: np.ndarray, min_gold: int):
    """The pseudo-labels whose class has at least `min_gold` gold labels."""
    gold = np.bincount(label_ids, minlength=int(max(label_ids.max(), pseudo.max())) + 1)
    keep = gold[pseudo] >= min_gold
    return rows[keep], pseudo[keep]


def cap_by_gold(rows: np.ndarray, pseudo: np.ndarray, gold: np.ndarray, per_label: float):
    """At most `per_label` pseudo-labels per gold label of each class, the first (most confident) kept."""
    keep = np.zeros(len(rows), bool)
    for c in np.unique(pseudo):
        members = np.flatnonzero(pseudo == c)
        keep[members[:int(round(per_label * (gold[c] if c < len(gold) else 0)))]] = True
    return rows[keep], pseudo[keep]


def _self_train(model, embeddings: np.ndarray, label_ids: np.ndarray, unlabeled: np.ndarray,
                args: HeadArguments, gold: np.ndarray | None = None, base_weights: np.ndarray | None = None):
    """Self-training (Yarowsky, ACL 1995; Lee, 'Pseudo-Label', 2013), one round: on the shared
    datasets it added up to 7 points of learning-curve AUC where pseudo-labels are precise."""
    rows, pseudo = pseudo_labels(model, unlabeled, int(round(args.self_training * len(label_ids))))
    if args.pseudo_min_gold and len(rows):
        rows, pseudo = enough_gold(rows, pseudo, label_ids, args.pseudo_min_gold)
    if args.pseudo_cap_by_gold and len(rows) and gold is not None:
        rows, pseudo = cap_by_gold(rows, pseudo, gold, args.self_training)
    if len(rows) == 0:
        return model
    x, y = np.concatenate([embeddings, unlabeled[rows]]), np.concatenate([label_ids, pseudo])
    weights = np.concatenate([np.ones(len(label_ids)) if base_weights is None else base_weights,
                              np.full(len(rows), float(args.pseudo_weight))])
    balanced = _balanced_params(args)
    if balanced:
        # 'balanced' would be recomputed over gold + pseudo-labels, which mostly come from the
        # frequent classes, and would push the refit towards rare ones (sms_spam lost 0.6 points
        # at 130 labels). Weigh classes from the gold labels alone, square-root tempered:
        # full balancing traded accuracy for rare-class recall on emotion (docs/results/superseded/).
        weights *= tempered_class_weights(label_ids, y)
    if args.kind == "logistic_regression":  # start from the supervised fit: far fewer iterations
        model.set_params(warm_start=True, **balanced).fit(x, y, sample_weight=weights)
        return model.set_params(warm_start=False)
    return _fit_supervised(x, y, args, sample_weight=weights, model=_weighted_estimator(args))


def _balanced_params(args: HeadArguments) -> dict:
    """The estimator's 'balanced' class-weight parameters, set to None (weights are given per row)."""
    return {name: None for name, value in build(args).get_params().items()
            if name.endswith("class_weight") and isinstance(value, str) and value == "balanced"}


def _weighted_estimator(args: HeadArguments):
    """A fresh estimator for a fit with per-row weights that already weigh the classes."""
    return build(args).set_params(**_balanced_params(args))


def tempered_class_weights(gold: np.ndarray, targets: np.ndarray, power: float = 0.5) -> np.ndarray:
    """Per-row weights for `targets`: scikit-learn's 'balanced' class weights of the `gold`
    labels raised to `power` (0: unweighted, 1: fully balanced)."""
    classes, counts = np.unique(gold, return_counts=True)
    balanced = len(gold) / (len(classes) * counts)
    return balanced[np.searchsorted(classes, targets)] ** power


def predict_proba(model, embeddings: np.ndarray, n_classes: int, chunk: int = 65_536) -> np.ndarray:
    """Probabilities over all project classes (classes without labels get 0)."""
    out = np.zeros((len(embeddings), n_classes), dtype=np.float32)
    columns = np.asarray(model.classes_).astype(int)
    for start in range(0, len(embeddings), chunk):
        block = np.asarray(embeddings[start:start + chunk], dtype=np.float32)
        out[start:start + len(block), columns] = model.predict_proba(block)
    return out


# ---------------------------------------------------------------- storing a head without pickle

# A fitted head is kept with every version so it can be exported. Pickle (joblib) would run
# code when loaded, so a head is stored as plain arrays (`head.npz`, read with
# allow_pickle=False) and JSON: a logistic regression as its coefficients; any other head of
# the allow-list as the arrays it was fitted on, refitted on load (deterministic: fixed seeds).
HEAD_JSON, HEAD_ARRAYS = "head.json", "head.npz"


@dataclass
class FitRecord:
    """What a head was fitted on: enough to fit the same head again."""

    args: HeadArguments
    x: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None


def save(model, directory) -> None:
    """Write a head fitted by `fit` as arrays and JSON into `directory`."""
    from pathlib import Path

    record: FitRecord = model.sieve_fit_
    directory = Path(directory)
    if record.args.kind == "logistic_regression":
        arrays = {"coef": model.coef_, "intercept": model.intercept_, "classes": np.asarray(model.classes_)}
        form = "coefficients"
    else:
        arrays = {"x": np.asarray(record.x, dtype=np.float32), "y": record.y}
        if record.sample_weight is not None:
            arrays["sample_weight"] = np.asarray(record.sample_weight, dtype=np.float64)
        form = "refit"
    with open(directory / HEAD_ARRAYS, "wb") as handle:
        np.savez(handle, **arrays)
    (directory / HEAD_JSON).write_text(json.dumps({"form": form, "args": record.args.to_dict()}))


def load(directory):
    """The head `save` wrote; nothing in the files is executed."""
    from pathlib import Path

    directory = Path(directory)
    meta = json.loads((directory / HEAD_JSON).read_text())
    args = HeadArguments.from_dict(meta["args"])  # the allow-list: an unknown kind is refused
    with np.load(directory / HEAD_ARRAYS, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    if meta["form"] == "coefficients":
        if args.kind != "logistic_regression":
            raise ValueError(f"A {args.kind} head cannot be stored as coefficients.")
        model = build(args)
        model.coef_, model.intercept_, model.classes_ = arrays["coef"], arrays["intercept"], arrays["classes"]
        model.n_features_in_ = model.coef_.shape[1]
        model.sieve_fit_ = FitRecord(args, np.empty((0, model.n_features_in_), np.float32), arrays["classes"], None)
        return model
    if meta["form"] != "refit":
        raise ValueError(f"Unknown stored head form {meta['form']!r}.")
    weights = arrays.get("sample_weight")
    with _thread_pools().limit(limits=1):
        return _fit_supervised(arrays["x"], arrays["y"], args, sample_weight=weights,
                               model=_weighted_estimator(args) if weights is not None else None)


def self_training_decision(model) -> dict | None:
    """What the self-training check decided for this fitted head (None when it did not run)."""
    return vars(model).get("self_training_check_")


SIEVE_ATTRIBUTES = ("sieve_fit_", "self_training_check_")


def plain_estimator(model, n_classes: int | None = None):
    """A shallow copy of a fitted head without Sieve's own attributes, for files that must load
    without Sieve (an exported SetFit directory pickles its head: an attribute holding one of
    Sieve's classes would make unpickling need the `core` package).

    With `n_classes`, a logistic regression fitted on some of the classes only gets a column for
    every class (probability ~0 for the missing ones), so the exported `predict_proba` columns
    line up with the model's label list, as `predict_proba` here does."""
    import copy

    plain = copy.copy(model)
    for name in SIEVE_ATTRIBUTES:
        vars(plain).pop(name, None)
    present = np.asarray(model.classes_).astype(int)
    if n_classes and _is_logistic(model) and present.tolist() != list(range(n_classes)):
        coef = np.zeros((n_classes, model.coef_.shape[1]), dtype=model.coef_.dtype)
        intercept = np.full(n_classes, MISSING_CLASS_LOGIT, dtype=model.intercept_.dtype)
        if len(present) == 2:  # binary: sigmoid(w.x + b) == softmax over logits (0, w.x + b)
            coef[present[1]], intercept[present] = model.coef_[0], (0.0, model.intercept_[0])
        else:
            coef[present], intercept[present] = model.coef_, model.intercept_
        plain.coef_, plain.intercept_, plain.classes_ = coef, intercept, np.arange(n_classes)
    return plain


MISSING_CLASS_LOGIT = -1e4  # a class the head never saw: exp(-1e4) is 0 in float64
