"""Offline active-learning simulation: the app's classifiers and strategies with an oracle.

The oracle reveals the gold label of each text a strategy picks. After the initial set and
after every round, the model is evaluated on the test set. The learning-curve AUC is the
mean test accuracy over those steps, so a strategy that is good early scores higher.
"""
from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
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


def run(train: pd.DataFrame, test: pd.DataFrame, strategy: str = "auto", init: int = 30, batch: int = 10,
        rounds: int = 10, seed: int = 0, classifier: str = "head", model: str | None = None,
        init_strategy: str = "auto", head_args: head.HeadArguments | None = None, family_args=None,
        save_model: Path | None = None, log: Callable[[str], None] = lambda _m: None,
        initial: np.ndarray | None = None, class_prior: bool = False, prior_temperature: float = 0.05) -> dict:
    """Simulate; `train`/`test` have columns text,label. Returns the result document.

    `initial` (pool row indices) overrides `init_strategy`, so two tools can start from the
    very same labels. As in the app, there is no model until labels of two classes exist: such
    a step keeps querying with the cold start (`strategies.select` with no probabilities:
    k-means, or random for `random`), is recorded with `"model": false`, and is scored as the
    constant prediction of the one class labeled so far (what a user without a model would
    guess), so a run on very imbalanced data never stops.

    `class_prior`: a zero-shot prior from the class names (embedded with the encoder; softmax of
    cosine / `prior_temperature`) picks a class-covering initial set (`strategies.class_cover`,
    unless `initial` is given), scores texts before the first model, and is averaged with the
    model's probabilities afterwards (for scoring and for the strategy).

    `classifier` is `head` (the fast head on frozen embeddings) or a family from
    `core.learning.classifiers.FAMILIES`, trained from the base model every round, as the worker's
    full retrain does; `family_args` is that family's arguments dataclass.
    """
    if classifier not in classifiers.CLASSIFIERS:
        raise ValueError(f"Unknown classifier {classifier!r}; choose from {', '.join(classifiers.CLASSIFIERS)}.")
    if init_strategy not in INIT_STRATEGIES:
        raise ValueError(f"Unknown initial strategy {init_strategy!r}; choose from {', '.join(INIT_STRATEGIES)}.")
    data = LabeledData.prepare(train, test, model)
    names, pool_texts, test_texts, y_pool, y_test = data.names, data.pool_texts, data.test_texts, data.y_pool, data.y_test
    pool_vectors, test_vectors = data.pool_vectors, data.test_vectors  # pool_vectors: the latest encoder's
    head_args = head_args or head.HeadArguments()
    if classifier != "head" and family_args is None:
        family_args = classifiers.arguments(classifier, {"seed": seed})
    rng = np.random.default_rng(seed)

    prior_pool = prior_test = None
    examples = data.class_vectors if classifier == "head" and head_args.class_names else None
    if class_prior:
        prior_pool = _softmax(pool_vectors @ data.class_vectors.T / prior_temperature)
        prior_test = _softmax(test_vectors @ data.class_vectors.T / prior_temperature)
    if initial is not None:
        labeled = np.asarray(initial, dtype=np.int64)
    elif class_prior and init_strategy == "auto":
        labeled = strategies.class_cover(prior_pool, pool_vectors, np.arange(len(pool_texts)), init, rng).indices
    else:
        labeled = initial_set(init_strategy, strategy, pool_vectors, y_pool, init, rng)
    steps, previous_predictions, trained = [], None, None
    warm_start = family_args is not None and family_args.warm_start
    start_from = model
    for round_number in range(rounds + 1):
        t0 = time.perf_counter()
        unlabeled = np.setdiff1d(np.arange(len(pool_texts)), labeled)
        has_model = len(np.unique(y_pool[labeled])) >= 2
        if not has_model:  # the app's cold start: nothing to fit yet
            probs = test_probs = None
        elif classifier == "head":
            trained = head.fit(pool_vectors[labeled], y_pool[labeled], head_args, unlabeled=pool_vectors[unlabeled],
                               class_examples=examples)
            probs = head.predict_proba(trained, pool_vectors, len(names))
        else:
            round_args = family_args.continuing() if start_from is not model else family_args
            trained = classifiers.train(classifier, start_from, [pool_texts[i] for i in labeled], y_pool[labeled],
                                        names, round_args)
            pool_vectors, probs = trained.embed_and_score(pool_texts)
        fit_s = time.perf_counter() - t0  # train + score the pool: what a round costs in the app
        if has_model and classifier == "head":
            test_probs = head.predict_proba(trained, test_vectors, len(names))
        elif has_model:
            test_probs = trained.embed_and_score(test_texts)[1]
            if warm_start:  # the next round continues from this encoder, kept in memory
                start_from = trained.continuation()
        if class_prior:  # the prior alone before a model, then half and half
            probs = prior_pool if probs is None else (probs + prior_pool) / 2
            test_probs = prior_test if test_probs is None else (test_probs + prior_test) / 2
        if has_model or class_prior:
            pool_predictions, test_predictions = probs.argmax(axis=1), test_probs.argmax(axis=1)
            uncertainty = stopping.mean_uncertainty(probs[unlabeled]) if has_model else None
        else:
            only = np.bincount(y_pool[labeled]).argmax()
            pool_predictions, test_predictions = np.full(len(pool_texts), only), np.full(len(test_texts), only)
            uncertainty = None  # no model, no stopping signal
        check = head.self_training_decision(trained) if has_model and classifier == "head" else None
        step = {"n_labels": int(len(labeled)), **evaluation.scores(y_test, test_predictions), "model": has_model,
                **({"self_training_check": check} if check else {}),
                "fit_s": fit_s, "query_s": 0.0,
                "kappa_previous": _kappa(previous_predictions, pool_predictions) if has_model else None,
                "mean_uncertainty": uncertainty}
        previous_predictions = pool_predictions if has_model else None
        if round_number < rounds:
            t1 = time.perf_counter()
            counts = np.bincount(y_pool[labeled], minlength=len(names)).tolist()
            chosen = strategies.select(strategy, probs, pool_vectors, unlabeled, batch, rng, class_counts=counts,
                                        labeled=labeled)
            labeled = np.concatenate([labeled, chosen.indices])
            step["query_s"] = time.perf_counter() - t1
        steps.append(step)
        log(f"{strategy} seed {seed}: {step['n_labels']} labels, accuracy {step['accuracy']:.3f}")
    if save_model is not None and steps[-1]["model"]:
        _save(trained, classifier, model, names, Path(save_model))
    accuracies = [s["accuracy"] for s in steps]
    stops = stopping.first_stop([s["kappa_previous"] for s in steps], [s["mean_uncertainty"] for s in steps],
                                [s["n_labels"] for s in steps])
    return {
        "config": {"strategy": strategy, "init": init, "batch": batch, "rounds": rounds, "seed": seed,
                   "classifier": classifier, "model": model or config.DEFAULT_MODEL, "init_strategy": init_strategy,
                   "pool": len(pool_texts), "test": len(test_texts), "classes": names,
                   "head": head_args.to_dict(), "family": family_args.to_dict() if family_args else None,
                   "class_prior": class_prior},
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
