"""The curve a user actually gets: the app's own schedule, replayed on a clock.

`core.simulate` retrains after every round and lets nobody wait, which is how papers draw
learning curves. An annotator in the app meets something else: texts come from the queue of
the version in service, that version is replaced only when a job finishes, head refits run
every `refit_every` labels in the worker's fast lane, full retrains of the project's family
every `full_retrain_every` labels in the slow lane under a wall-time budget, and one text in
ten comes from the eval sample and never trains the model.

This module replays exactly that, with an oracle as the annotator. The annotator gives one
label every `seconds_per_label` seconds and never waits. Every job really runs (fit,
cross-validation, scoring the pool, ranking the queue; for a full retrain also training and
re-embedding the pool); its measured wall time places its publication on the clock. The lanes
run side by side, as in the worker. The served version is the one trained on the most labels
(`store.current_version`'s rule), newest first on a tie.

Excluded from the clock: importing and the first embedding of the pool (the annotator starts
when the cold-start queue exists), writing artifacts and the worker's polling (tens of ms),
and scoring the test set (which the app never does). The lanes share the machine's cores in
the app but run one after another here, so on a small CPU the app can be slower than this.
"""
from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from core import class_examples, classifiers, config, embeddings, evaluation, simulate, strategies
from core.annotate import EVAL_EVERY
from core.classifiers import head
from core.io import DEFAULT_EVAL_FRACTION, EVAL_CAP
from core.label_arrays import class_counts
from core.publishing import CV_PSEUDO_CANDIDATES
from core.settings import ProjectSettings
from core.training import COLD_START_BATCH


@dataclass
class ScheduleArguments:
    labels: int = 200  # labels the annotator gives (eval-sample labels included)
    seconds_per_label: float = 5.0  # the annotator's pace; the clock advances by it per label
    settings: ProjectSettings = field(default_factory=ProjectSettings)
    device: str | None = None  # sets the automatic retrain cadence and budget; None: this machine's
    eval_fraction: float = DEFAULT_EVAL_FRACTION  # the app's eval sample: never queried, never trained on
    seed: int = 0
    model: str | None = None

    def __post_init__(self):
        if self.labels < 1:
            raise ValueError("labels must be at least 1")
        if self.seconds_per_label <= 0:
            raise ValueError("seconds per label must be positive")


@dataclass
class _Version:
    kind: str  # head or full
    started_s: float
    published_s: float
    compute_s: float
    n_train: int  # training labels it saw (its watermark)
    serial: int  # publication order on a tie
    queue: np.ndarray  # pool rows in the order annotators see them
    scores: dict  # accuracy and macro-F1 on the test set


class _Encoder:
    """Pool, test and class-name embeddings of one encoder (the base model, or a full retrain's)."""

    def __init__(self, pool: np.ndarray, test: np.ndarray, classes: np.ndarray):
        self.pool, self.test, self.classes = pool, test, classes


def run(train: pd.DataFrame, test: pd.DataFrame, args: ScheduleArguments | None = None,
        log: Callable[[str], None] = lambda _m: None) -> dict:
    """Replay the app's schedule over `train` (the pool) and score every version on `test`."""
    args = args or ScheduleArguments()
    settings, rng = args.settings, np.random.default_rng(args.seed)
    device = args.device or embeddings.device()
    full_every = settings.full_retrain_every(device)
    names = sorted(set(train["label"]))
    position = {name: i for i, name in enumerate(names)}
    texts, test_texts = train["text"].tolist(), test["text"].tolist()
    y = train["label"].map(position).to_numpy()
    y_test = test["label"].map(position).fillna(-1).astype(int).to_numpy()
    class_texts = [class_examples.example_text(n) for n in names]
    base = _Encoder(simulate.cached_embeddings(args.model, texts), simulate.cached_embeddings(args.model, test_texts),
                    embeddings.encode(embeddings.load_encoder(args.model), class_texts))

    eval_size = min(EVAL_CAP, int(round(args.eval_fraction * len(texts))))
    eval_rows = rng.choice(len(texts), eval_size, replace=False) if eval_size else np.array([], dtype=np.int64)
    pool_rows = np.setdiff1d(np.arange(len(texts)), eval_rows)
    cold = strategies.rank_queue("kmeans", None, base.pool, pool_rows, settings.queue_size,
                                 min(COLD_START_BATCH, settings.queue_size), np.random.default_rng(0)).indices

    labeled: list[int] = []  # pool rows with a label, in order
    eval_labeled = 0
    published: list[_Version] = []
    pending: list[tuple[float, int, _Version, _Encoder | None]] = []  # (publish time, serial, version, new encoder)
    lanes = {"head": 0.0, "full": 0.0}  # when each lane is free
    wanted = {"head": False, "full": False}
    requested_at = {"head": 0, "full": 0}  # training labels when each kind was last requested
    encoder = base
    serial = 0

    def served() -> _Version | None:
        return max(published, key=lambda v: (v.n_train, v.serial)) if published else None

    def start_jobs(now: float) -> None:
        nonlocal serial
        for kind in ("head", "full"):
            if not wanted[kind] or lanes[kind] > now or any(p[2].kind == kind for p in pending):
                continue
            rows = np.array(labeled, dtype=np.int64)
            counts = np.bincount(y[rows], minlength=len(names)) if len(rows) else np.zeros(len(names))
            if kind == "head" and (counts > 0).sum() < 2:
                continue  # "waiting for labels of at least two classes"
            if kind == "full" and (counts >= 2).sum() < 2:
                continue
            wanted[kind] = False
            version, new_encoder = (_head_job if kind == "head" else _full_job)(
                rows, encoder, now, serial, y, y_test, texts, test_texts, names, pool_rows, settings, device, args)
            serial += 1
            lanes[kind] = version.published_s
            heapq.heappush(pending, (version.published_s, version.serial, version, new_encoder))
            log(f"{kind} started at {now:.0f} s on {len(rows)} labels, publishes at {version.published_s:.0f} s "
                f"(accuracy {version.scores['accuracy']:.3f})")

    def advance_to(t: float) -> None:
        nonlocal encoder
        while pending and pending[0][0] <= t:
            when, _, version, new_encoder = heapq.heappop(pending)
            published.append(version)
            if new_encoder is not None:  # a retrain's encoder: refit the head on it with every label
                encoder = new_encoder
                wanted["head"] = True
            start_jobs(when)

    by_label = []
    for k in range(1, args.labels + 1):
        now = (k - 1) * args.seconds_per_label  # the annotator asks for the next text
        advance_to(now)
        current = served()
        by_label.append({"n_labels": k - 1, "n_train": len(labeled), "t_s": now,
                         "version": None if current is None else current.serial,
                         **(current.scores if current else {"accuracy": None, "macro_f1": None})})
        if eval_labeled < len(eval_rows) and len(labeled) >= (eval_labeled + 1) * (EVAL_EVERY - 1):
            eval_labeled += 1  # annotate.choose_split: one in EVAL_EVERY from the eval sample
        else:
            queue = current.queue if current is not None else cold
            taken = set(labeled)
            row = next((int(r) for r in queue if int(r) not in taken), None)
            if row is None:  # the queue ran out between versions: any unlabeled pool text
                row = int(rng.choice(np.setdiff1d(pool_rows, labeled)))
            labeled.append(row)
        t_label = k * args.seconds_per_label
        advance_to(t_label)
        for kind, every in (("head", settings.refit_every), ("full", full_every)):
            if every > 0 and len(labeled) - requested_at[kind] >= every:
                requested_at[kind], wanted[kind] = len(labeled), True
        start_jobs(t_label)
    advance_to(float("inf"))  # the jobs still running finish after the last label
    end_s = max([args.labels * args.seconds_per_label] + [v.published_s for v in published])
    final = served()
    by_label.append({"n_labels": args.labels, "n_train": len(labeled), "t_s": end_s,
                     "version": None if final is None else final.serial,
                     **(final.scores if final else {"accuracy": None, "macro_f1": None})})
    return {
        "config": {"labels": args.labels, "seconds_per_label": args.seconds_per_label, "seed": args.seed,
                   "device": device, "refit_every": settings.refit_every, "full_retrain_every": full_every,
                   "family": settings.family, "family_args": settings.family_arguments().to_dict(),
                   "retrain_budget_s": settings.retrain_budget(device), "strategy": settings.strategy,
                   "model": args.model or config.DEFAULT_MODEL, "pool": len(pool_rows), "eval_sample": len(eval_rows),
                   "test": len(test_texts), "classes": names},
        "versions": [{"serial": v.serial, "kind": v.kind, "started_s": v.started_s, "published_s": v.published_s,
                      "compute_s": v.compute_s, "n_train": v.n_train, **v.scores}
                     for v in sorted(published, key=lambda v: v.published_s)],
        "by_label": by_label,
        "labeled_rows": labeled,  # pool rows in the order they were labeled (eval-sample labels excluded)
        "eval_labels": eval_labeled,
        "end_s": end_s,
    }


def at_time(result: dict, t: float) -> dict | None:
    """Scores of the version in service at `t` seconds (None before the first one)."""
    live = [v for v in result["versions"] if v["published_s"] <= t]
    if not live:
        return None
    return max(live, key=lambda v: (v["n_train"], v["serial"]))


def _head_job(rows, encoder: _Encoder, now, serial, y, y_test, texts, test_texts, names, pool_rows,
              settings: ProjectSettings, device, args) -> tuple[_Version, None]:
    t0 = time.perf_counter()
    candidates = np.setdiff1d(pool_rows, rows)
    model = head.fit(encoder.pool[rows], y[rows], settings.head,
                     unlabeled=encoder.pool[candidates[head.pseudo_label_candidates(len(candidates))]],
                     class_examples=encoder.classes)
    probs = head.predict_proba(model, encoder.pool, len(names))
    queue = _publish_work(probs, encoder.pool, rows, y, candidates, names, settings, encoder.classes)
    compute_s = time.perf_counter() - t0
    scores = evaluation.scores(y_test, head.predict_proba(model, encoder.test, len(names)).argmax(1))
    return _Version("head", now, now + compute_s, compute_s, len(rows), serial, queue, scores), None


def _full_job(rows, encoder: _Encoder, now, serial, y, y_test, texts, test_texts, names, pool_rows,
              settings: ProjectSettings, device, args) -> tuple[_Version, _Encoder]:
    t0 = time.perf_counter()
    family_args = settings.family_arguments()
    budget = classifiers.TimeBudget(settings.retrain_budget(device))
    trained = classifiers.train(settings.family, args.model, [texts[i] for i in rows], y[rows], names,
                                family_args, budget=budget)
    vectors, probs = trained.embed_and_score(texts)
    candidates = np.setdiff1d(pool_rows, rows)
    queue = _publish_work(probs, vectors, rows, y, candidates, names, settings)
    compute_s = time.perf_counter() - t0
    test_vectors, test_probs = trained.embed_and_score(test_texts)
    class_vectors = trained.embed_and_score([class_examples.example_text(n) for n in names])[0]
    scores = evaluation.scores(y_test, test_probs.argmax(1))
    return (_Version("full", now, now + compute_s, compute_s, len(rows), serial, queue, scores),
            _Encoder(np.asarray(vectors, dtype=np.float32), np.asarray(test_vectors, dtype=np.float32),
                     np.asarray(class_vectors, dtype=np.float32)))


def _publish_work(probs, vectors, rows, y, candidates, names, settings: ProjectSettings,
                  class_vectors: np.ndarray | None = None) -> np.ndarray:
    """What `publishing.publish` computes before it writes: cross-validation, then the queue."""
    sample = candidates[head.pseudo_label_candidates(len(candidates), CV_PSEUDO_CANDIDATES)]
    evaluation.cross_validate(vectors[rows], y[rows], settings.head, unlabeled=vectors[sample],
                              class_examples=class_vectors if settings.head.class_names else None)
    return strategies.rank_queue(settings.strategy, probs, vectors, candidates, settings.queue_size,
                                 settings.batch_size, np.random.default_rng(len(rows)),
                                 class_counts=class_counts(y[rows], len(names)), labeled=rows).indices
