"""Offline active-learning simulation: the app's classifiers and strategies with an oracle.

The oracle reveals the gold label of each text a strategy picks. After the initial set and
after every round, the model is evaluated on the test set. The learning-curve AUC is the
mean test accuracy over those steps, so a strategy that is good early scores higher.
"""
from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from core import config
from core.learning import class_examples, classifiers, embeddings, evaluation, stopping, strategies
from core.learning.classifiers import head

INIT_STRATEGIES = ("auto", "random", "balanced")


def cached_embeddings(model: str | None, texts: list[str]) -> np.ndarray:
    """Base-encoder embeddings, cached on disk: simulations re-run often over the same data."""
    key = hashlib.sha1((str(model) + "\x00" + "\x00".join(texts)).encode()).hexdigest()[:20]
    path = config.data_dir() / "cache" / f"emb-{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = embeddings.encode(embeddings.load_encoder(model), texts)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


@dataclass
class LabeledData:
    """A labeled pool and test set as the simulators use them: class ids (by sorted class name;
    test labels unknown to the pool are -1), base-encoder embeddings, and the embedded class names."""

    names: list[str]
    pool_texts: list[str]
    test_texts: list[str]
    y_pool: np.ndarray
    y_test: np.ndarray
    pool_vectors: np.ndarray
    test_vectors: np.ndarray
    model: str | None = None

    @classmethod
    def prepare(cls, train: pd.DataFrame, test: pd.DataFrame, model: str | None = None) -> "LabeledData":
        """From frames with columns text,label; embeddings come from the on-disk cache."""
        names = sorted(set(train["label"]))
        position = {name: i for i, name in enumerate(names)}
        pool_texts, test_texts = train["text"].tolist(), test["text"].tolist()
        return cls(names, pool_texts, test_texts, train["label"].map(position).to_numpy(),
                   test["label"].map(position).fillna(-1).astype(int).to_numpy(),
                   cached_embeddings(model, pool_texts), cached_embeddings(model, test_texts), model)

    @functools.cached_property
    def class_vectors(self) -> np.ndarray:
        """The class names embedded with the base encoder, as the app embeds them (`core.class_examples`)."""
        return embeddings.encode(embeddings.load_encoder(self.model),
                                 [class_examples.example_text(n) for n in self.names])


def initial_set(init_strategy: str, strategy: str, pool_vectors: np.ndarray, y: np.ndarray, n: int,
                rng: np.random.Generator) -> np.ndarray:
    """The first labels: the strategy's own cold start, uniform random, or class-balanced (HAST grid)."""
    everything = np.arange(len(pool_vectors))
    if init_strategy == "random":
        return rng.choice(everything, n, replace=False)
    if init_strategy == "balanced":
        classes = np.unique(y)
        per_class = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
        picked = [rows[i] for i in range(n) for rows in per_class if i < len(rows)]
        return np.array(picked[:n], dtype=np.int64)
    return strategies.select(strategy, None, pool_vectors, everything, n, rng).indices


@dataclass
class SimulationArguments:
    """What one simulation runs: the loop's grid, the strategy, the classifier and its arguments.

    `initial` (pool row indices) overrides `init_strategy`, so two tools can start from the
    very same labels. `classifier` is `head` (the fast head on frozen embeddings, `head_args`)
    or a family from `core.learning.classifiers.FAMILIES`, trained from the base model every
    round as the worker's full retrain does, with `family_args` (that family's arguments
    dataclass; default: its defaults with `seed`).

    `class_prior`: a zero-shot prior from the class names (embedded with the encoder; softmax of
    cosine / `prior_temperature`) picks a class-covering initial set (`strategies.class_cover`,
    unless `initial` is given), scores texts before the first model, and is averaged with the
    model's probabilities afterwards (for scoring and for the strategy).
    """

    strategy: str = "auto"
    init: int = 30  # initial labels
    batch: int = 10  # labels per round
    rounds: int = 10  # rounds after the initial set
    seed: int = 0
    classifier: str = "head"
    model: str | None = None  # the base encoder (default: the packaged one)
    init_strategy: str = "auto"  # one of INIT_STRATEGIES
    head_args: head.HeadArguments = field(default_factory=head.HeadArguments)
    family_args: classifiers.FamilyArguments | None = None
    save_model: Path | None = None  # write the final model here (the export format)
    initial: np.ndarray | list[int] | None = None
    class_prior: bool = False
    prior_temperature: float = 0.05
    # > 0: the prior's share fades with the labels, F / (F + n) at n labels, instead of half and
    # half, and the first labels are the strategy's own cold start, not the class-covering set.
    prior_fade: float = 0.0

    def __post_init__(self):
        if self.classifier not in classifiers.CLASSIFIERS:
            raise ValueError(f"Unknown classifier {self.classifier!r}; "
                             f"choose from {', '.join(classifiers.CLASSIFIERS)}.")
        if self.init_strategy not in INIT_STRATEGIES:
            raise ValueError(f"Unknown initial strategy {self.init_strategy!r}; "
                             f"choose from {', '.join(INIT_STRATEGIES)}.")
        strategies.spec(self.strategy)  # an unknown strategy is refused before any embedding
        if self.head_args is None:
            self.head_args = head.HeadArguments()
        if self.classifier != "head" and self.family_args is None:
            self.family_args = classifiers.arguments(self.classifier, {"seed": self.seed})

    @property
    def warm_start(self) -> bool:
        return self.family_args is not None and self.family_args.warm_start

    def config(self) -> dict:
        """The arguments as the result document records them."""
        return {"strategy": self.strategy, "init": self.init, "batch": self.batch, "rounds": self.rounds,
                "seed": self.seed, "classifier": self.classifier, "model": self.model or config.DEFAULT_MODEL,
                "init_strategy": self.init_strategy}


def run(train: pd.DataFrame, test: pd.DataFrame, args: SimulationArguments | None = None,
        log: Callable[[str], None] = lambda _m: None) -> dict:
    """Simulate; `train`/`test` have columns text,label. Returns the result document.

    As in the app, there is no model until labels of two classes exist: such a step keeps
    querying with the cold start (`strategies.select` with no probabilities: k-means, or random
    for `random`), is recorded with `"model": false`, and is scored as the constant prediction
    of the one class labeled so far (what a user without a model would guess), so a run on very
    imbalanced data never stops.
    """
    args = args or SimulationArguments()
    simulation = _Simulation(LabeledData.prepare(train, test, args.model), args)
    steps = []
    for round_number in range(args.rounds + 1):
        step = simulation.evaluate()
        if round_number < args.rounds:
            step["query_s"] = simulation.label_next_batch()
        steps.append(step)
        log(f"{args.strategy} seed {args.seed}: {step['n_labels']} labels, accuracy {step['accuracy']:.3f}")
    if args.save_model is not None and steps[-1]["model"]:
        _save(simulation.trained, args.classifier, args.model, simulation.data.names, Path(args.save_model))
    return _result(args, simulation.data, steps)


class _Simulation:
    """The state of one simulation between rounds: the labeled rows, the latest model and the
    pool's embeddings under its encoder, the previous round's predictions."""

    def __init__(self, data: LabeledData, args: SimulationArguments):
        self.data, self.args = data, args
        self.rng = np.random.default_rng(args.seed)
        self.pool_vectors = data.pool_vectors  # the latest encoder's
        self.examples = data.class_vectors if args.classifier == "head" and args.head_args.class_names else None
        self.prior_pool = self.prior_test = None
        if args.class_prior:
            self.prior_pool = _softmax(data.pool_vectors @ data.class_vectors.T / args.prior_temperature)
            self.prior_test = _softmax(data.test_vectors @ data.class_vectors.T / args.prior_temperature)
        self.labeled = self._first_labels()
        self.trained = None
        self.start_from = args.model  # a warm start continues from the last encoder, kept in memory
        self.previous_predictions: np.ndarray | None = None
        self.probs: np.ndarray | None = None  # the pool's probabilities the next query reads
        self.unlabeled = np.array([], dtype=np.int64)  # the pool rows without a label at the last evaluation

    def _first_labels(self) -> np.ndarray:
        args, data = self.args, self.data
        if args.initial is not None:
            return np.asarray(args.initial, dtype=np.int64)
        if args.class_prior and args.init_strategy == "auto" and not args.prior_fade:
            return strategies.class_cover(self.prior_pool, self.pool_vectors, np.arange(len(data.pool_texts)),
                                          args.init, self.rng).indices
        return initial_set(args.init_strategy, args.strategy, self.pool_vectors, data.y_pool, args.init, self.rng)

    def evaluate(self) -> dict:
        """Fit on the labels so far, score the pool and the test set: one step of the curve."""
        t0 = time.perf_counter()
        self.unlabeled = unlabeled = np.setdiff1d(np.arange(len(self.data.pool_texts)), self.labeled)
        has_model = len(np.unique(self.data.y_pool[self.labeled])) >= 2
        probs = self._fit_and_score_pool(unlabeled) if has_model else None  # no model: the app's cold start
        fit_s = time.perf_counter() - t0  # train + score the pool: what a round costs in the app
        test_probs = self._score_test() if has_model else None
        if self.args.class_prior:  # the prior alone before a model, then mixed in (half and half, or fading)
            fade = self.args.prior_fade
            share = fade / (fade + len(self.labeled)) if fade else 0.5
            probs = self.prior_pool if probs is None else (1 - share) * probs + share * self.prior_pool
            test_probs = self.prior_test if test_probs is None else (1 - share) * test_probs + share * self.prior_test
        self.probs = probs
        pool_predictions, test_predictions = self._predictions(has_model, probs, test_probs)
        uncertainty = stopping.mean_uncertainty(probs[unlabeled]) if has_model else None  # no model, no signal
        check = head.self_training_decision(self.trained) if has_model and self.args.classifier == "head" else None
        step = {"n_labels": int(len(self.labeled)), **evaluation.scores(self.data.y_test, test_predictions),
                "model": has_model, **({"self_training_check": check} if check else {}),
                "fit_s": fit_s, "query_s": 0.0,
                "kappa_previous": _kappa(self.previous_predictions, pool_predictions) if has_model else None,
                "mean_uncertainty": uncertainty}
        self.previous_predictions = pool_predictions if has_model else None
        return step

    def _fit_and_score_pool(self, unlabeled: np.ndarray) -> np.ndarray:
        """Train the classifier on the labeled rows; the pool's probabilities (a family also re-embeds the pool)."""
        args, data, labeled = self.args, self.data, self.labeled
        if args.classifier == "head":
            self.trained = head.fit(self.pool_vectors[labeled], data.y_pool[labeled], args.head_args,
                                    unlabeled=self.pool_vectors[unlabeled], class_examples=self.examples)
            return head.predict_proba(self.trained, self.pool_vectors, len(data.names))
        round_args = args.family_args.continuing() if self.start_from is not args.model else args.family_args
        self.trained = classifiers.train(args.classifier, self.start_from, [data.pool_texts[i] for i in labeled],
                                         data.y_pool[labeled], data.names, round_args)
        self.pool_vectors, probs = self.trained.embed_and_score(data.pool_texts)
        return probs

    def _score_test(self) -> np.ndarray:
        if self.args.classifier == "head":
            return head.predict_proba(self.trained, self.data.test_vectors, len(self.data.names))
        test_probs = self.trained.embed_and_score(self.data.test_texts)[1]
        if self.args.warm_start:  # the next round continues from this encoder, kept in memory
            self.start_from = self.trained.continuation()
        return test_probs

    def _predictions(self, has_model: bool, probs, test_probs) -> tuple[np.ndarray, np.ndarray]:
        """Pool and test predictions; with neither model nor prior, the one class labeled so far."""
        if has_model or self.args.class_prior:
            return probs.argmax(axis=1), test_probs.argmax(axis=1)
        only = np.bincount(self.data.y_pool[self.labeled]).argmax()
        return np.full(len(self.data.pool_texts), only), np.full(len(self.data.test_texts), only)

    def label_next_batch(self) -> float:
        """The oracle labels the batch the strategy picks (after `evaluate`); returns the seconds the strategy took."""
        t1 = time.perf_counter()
        counts = np.bincount(self.data.y_pool[self.labeled], minlength=len(self.data.names)).tolist()
        chosen = strategies.select(self.args.strategy, self.probs, self.pool_vectors, self.unlabeled, self.args.batch,
                                   self.rng, class_counts=counts, labeled=self.labeled)
        self.labeled = np.concatenate([self.labeled, chosen.indices])
        return time.perf_counter() - t1


def _result(args: SimulationArguments, data: LabeledData, steps: list[dict]) -> dict:
    """The result document: the arguments, every step, the learning-curve AUCs and the stopping signals."""
    accuracies = [s["accuracy"] for s in steps]
    stops = stopping.first_stop([s["kappa_previous"] for s in steps], [s["mean_uncertainty"] for s in steps],
                                [s["n_labels"] for s in steps])
    return {
        "config": {**args.config(), "pool": len(data.pool_texts), "test": len(data.test_texts), "classes": data.names,
                   "head": args.head_args.to_dict(), "family": args.family_args.to_dict() if args.family_args else None,
                   "class_prior": args.class_prior, "prior_fade": args.prior_fade},
        "steps": steps,
        "auc": float(np.mean(accuracies)),
        "auc_macro_f1": float(np.mean([s["macro_f1"] for s in steps])),
        "final_accuracy": accuracies[-1],
        "stops": {name: (None if step is None else {"step": step, "n_labels": steps[step]["n_labels"],
                                                     "accuracy": steps[step]["accuracy"]})
                  for name, step in stops.items()},
    }


def _save(trained, classifier: str, model: str | None, names: list[str], out_dir: Path) -> None:
    """The final model of a simulation, in the same export format as the app's."""
    if classifier == "head":
        from core.learning.classifiers import setfit_family

        setfit_family.save_setfit_dir(embeddings.load_encoder(model), trained, names, out_dir)
    else:
        trained.save(out_dir)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _kappa(previous: np.ndarray | None, current: np.ndarray) -> float | None:
    if previous is None:
        return None
    if (previous == current).all():
        return 1.0
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(previous, current))


def read_dataset(path: str | Path, text_column: str = "text", label_column: str = "label") -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)} (columns: {', '.join(frame.columns)})")
    return frame.rename(columns={text_column: "text", label_column: "label"})[["text", "label"]]
