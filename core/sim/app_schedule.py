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
(`store.current_version`'s rule), newest first on a tie, among the versions that may be served:
a full retrain's own version is not, and the head refit after it compares the new encoder
with the previous one as `training.compare_after_retrain` does (`core.learning.comparison`): the better
head is served and the encoder it stands on is used from then on.

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

from core import config
from core.learning import class_examples, classifiers, comparison, embeddings, evaluation, strategies
from core.sim import simulate
from core.labeling.annotate import eval_due
from core.learning.classifiers import head
from core.files.imports import DEFAULT_EVAL_FRACTION, EVAL_CAP
from core.jobs.label_arrays import class_counts
from core.jobs.publishing import CV_PSEUDO_CANDIDATES
from core.settings import ProjectSettings
from core.jobs.training import COLD_START_BATCH


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
    servable: bool = True  # False: a retrain's own version, or the head the comparison found worse
    reason: str = ""


@dataclass
class _Encoder:
    """Pool, test and class-name embeddings of one encoder (the base model, or a full retrain's)."""

    pool: np.ndarray
    test: np.ndarray
    classes: np.ndarray
    held_out: np.ndarray | None = None  # pool rows a retrain kept out of the encoder's training
    trained_on: int = 0  # training labels when the retrain started (later ones it never saw)


@dataclass
class _Context:
    """What every job of one run reads: the data, the pool rows annotators are served from, the settings."""

    data: simulate.LabeledData
    pool_rows: np.ndarray
    settings: ProjectSettings
    device: str
    model: str | None


def run(train: pd.DataFrame, test: pd.DataFrame, args: ScheduleArguments | None = None,
        log: Callable[[str], None] = lambda _m: None) -> dict:
    """Replay the app's schedule over `train` (the pool) and score every version on `test`."""
    args = args or ScheduleArguments()
    replay = _Replay(args, simulate.LabeledData.prepare(train, test, args.model), log)
    for k in range(1, args.labels + 1):
        now = (k - 1) * args.seconds_per_label  # the annotator asks for the next text
        replay.advance_to(now)
        replay.record(now, n_labels=k - 1)
        replay.give_label()
        t_label = k * args.seconds_per_label
        replay.advance_to(t_label)
        replay.request_jobs()
        replay.start_jobs(t_label)
    replay.advance_to(float("inf"))  # the jobs still running finish after the last label
    return replay.result()


class _Replay:
    """One replay on the clock: the labels given, the versions published and pending, the two lanes."""

    def __init__(self, args: ScheduleArguments, data: simulate.LabeledData, log: Callable[[str], None]):
        self.args, self.log = args, log
        settings, self.rng = args.settings, np.random.default_rng(args.seed)
        device = args.device or embeddings.device()
        self.full_every = settings.full_retrain_every(device)
        self.encoder = _Encoder(data.pool_vectors, data.test_vectors, data.class_vectors)  # the base model's
        y = data.y_pool
        eval_size = min(EVAL_CAP, int(round(args.eval_fraction * len(y))))
        self.eval_rows = (self.rng.choice(len(y), eval_size, replace=False) if eval_size
                          else np.array([], dtype=np.int64))
        pool_rows = np.setdiff1d(np.arange(len(y)), self.eval_rows)
        self.context = _Context(data, pool_rows, settings, device, args.model)
        self.cold = strategies.rank_queue("kmeans", None, self.encoder.pool, pool_rows, settings.queue_size,
                                          min(COLD_START_BATCH, settings.queue_size), np.random.default_rng(0)).indices
        self.labeled: list[int] = []  # pool rows with a label, in order
        self.eval_labeled = 0
        self.published: list[_Version] = []
        # (publish time, serial, version, new encoder)
        self.pending: list[tuple[float, int, _Version, _Encoder | None]] = []
        self.lanes = {"head": 0.0, "full": 0.0}  # when each lane is free
        self.wanted = {"head": False, "full": False}
        self.requested_at = {"head": 0, "full": 0}  # training labels when each kind was last requested
        self.to_compare: list[_Encoder] = []  # a retrain's encoder, until the next head refit compares it
        self.serial = 0
        self.by_label: list[dict] = []

    def served(self) -> _Version | None:
        """The version in service: trained on the most labels among those that may be served."""
        servable = [v for v in self.published if v.servable]
        return max(servable, key=lambda v: (v.n_train, v.serial)) if servable else None

    def start_jobs(self, now: float) -> None:
        """Start each wanted job whose lane is free, if there are labels enough for it."""
        names, y = self.context.data.names, self.context.data.y_pool
        for kind in ("head", "full"):
            if not self.wanted[kind] or self.lanes[kind] > now or any(p[2].kind == kind for p in self.pending):
                continue
            rows = np.array(self.labeled, dtype=np.int64)
            counts = np.bincount(y[rows], minlength=len(names)) if len(rows) else np.zeros(len(names))
            if kind == "head" and (counts > 0).sum() < 2:
                continue  # "waiting for labels of at least two classes"
            if kind == "full" and (counts >= 2).sum() < 2:
                continue
            self.wanted[kind] = False
            if kind == "head" and self.to_compare:
                eval_seen = self.eval_rows[:self.eval_labeled]
                loser, version, new_encoder = _compare_job(self.context, rows, self.encoder, self.to_compare.pop(),
                                                           eval_seen, now, self.serial)
                self.serial += 2
                self.published.append(loser)  # kept, never served; the winner publishes when the job ends
            else:
                job = _head_job if kind == "head" else _full_job
                version, new_encoder = job(self.context, rows, self.encoder, now, self.serial)
                self.serial += 1
            self.lanes[kind] = version.published_s
            heapq.heappush(self.pending, (version.published_s, version.serial, version, new_encoder))
            self.log(f"{kind} started at {now:.0f} s on {len(rows)} labels, publishes at {version.published_s:.0f} s "
                     f"(accuracy {version.scores['accuracy']:.3f})")

    def advance_to(self, t: float) -> None:
        """Publish every job finished by `t`; a lane a job frees starts the next one at once."""
        while self.pending and self.pending[0][0] <= t:
            when, _, version, new_encoder = heapq.heappop(self.pending)
            self.published.append(version)
            if new_encoder is not None and version.kind == "full":  # compare it at the next head refit
                self.to_compare.append(new_encoder)
                self.wanted["head"] = True
            elif new_encoder is not None:  # the comparison's winner: refits use its encoder from now on
                self.encoder = new_encoder
            self.start_jobs(when)

    def record(self, now: float, n_labels: int) -> None:
        """One row of the curve: the version in service and its scores at `now`, after `n_labels` labels."""
        current = self.served()
        self.by_label.append({"n_labels": n_labels, "n_train": len(self.labeled), "t_s": now,
                              "version": None if current is None else current.serial,
                              **(current.scores if current else {"accuracy": None, "macro_f1": None})})

    def give_label(self) -> None:
        """The annotator labels the next text: from the eval sample when due (`annotate.eval_due`), else the served queue."""
        if self.eval_labeled < len(self.eval_rows) and eval_due(len(self.labeled), self.eval_labeled):
            self.eval_labeled += 1  # annotate.choose_split: one in five, then one in ten, from the eval sample
            return
        current = self.served()
        queue = current.queue if current is not None else self.cold
        taken = set(self.labeled)
        row = next((int(r) for r in queue if int(r) not in taken), None)
        if row is None:  # the queue ran out between versions: any unlabeled pool text
            row = int(self.rng.choice(np.setdiff1d(self.context.pool_rows, self.labeled)))
        self.labeled.append(row)

    def request_jobs(self) -> None:
        """Ask for a head refit and a full retrain when their cadence in training labels is reached."""
        for kind, every in (("head", self.context.settings.refit_every), ("full", self.full_every)):
            if every > 0 and len(self.labeled) - self.requested_at[kind] >= every:
                self.requested_at[kind], self.wanted[kind] = len(self.labeled), True

    def result(self) -> dict:
        args, context, settings = self.args, self.context, self.context.settings
        end_s = max([args.labels * args.seconds_per_label] + [v.published_s for v in self.published])
        self.record(end_s, n_labels=args.labels)
        return {
            "config": {"labels": args.labels, "seconds_per_label": args.seconds_per_label, "seed": args.seed,
                       "device": context.device, "refit_every": settings.refit_every,
                       "full_retrain_every": self.full_every, "family": settings.family,
                       "family_args": settings.family_arguments().to_dict(),
                       "retrain_budget_s": settings.retrain_budget(context.device), "strategy": settings.strategy,
                       "model": args.model or config.DEFAULT_MODEL, "pool": len(context.pool_rows),
                       "eval_sample": len(self.eval_rows), "test": len(context.data.test_texts),
                       "classes": context.data.names},
            "versions": [{"serial": v.serial, "kind": v.kind, "started_s": v.started_s, "published_s": v.published_s,
                          "compute_s": v.compute_s, "n_train": v.n_train, "served": v.servable,
                          "reason": v.reason, **v.scores}
                         for v in sorted(self.published, key=lambda v: v.published_s)],
            "by_label": self.by_label,
            "labeled_rows": self.labeled,  # pool rows in the order they were labeled (eval-sample labels excluded)
            "eval_labels": self.eval_labeled,
            "end_s": end_s,
        }


def at_time(result: dict, t: float) -> dict | None:
    """Scores of the version in service at `t` seconds (None before the first one)."""
    live = [v for v in result["versions"] if v["published_s"] <= t and v.get("served", True)]
    if not live:
        return None
    return max(live, key=lambda v: (v["n_train"], v["serial"]))


def _head_job(context: _Context, rows: np.ndarray, encoder: _Encoder, now: float,
              serial: int) -> tuple[_Version, None]:
    return _head_version(context, rows, encoder, now, serial, time.perf_counter()), None


def _compare_job(context: _Context, rows: np.ndarray, old: _Encoder, new: _Encoder, eval_seen: np.ndarray,
                 now: float, serial: int) -> tuple[_Version, _Version, _Encoder]:
    """`training.compare_after_retrain` on the clock: (the worse head, kept; the better, served; its encoder)."""
    data, settings, n = context.data, context.settings, len(context.data.names)
    t0 = time.perf_counter()
    y = data.y_pool
    if len(eval_seen) >= comparison.MIN_EVAL:
        on, train, test = "the eval sample", rows, eval_seen
    else:
        unseen = np.isin(rows, new.held_out) | (np.arange(len(rows)) >= new.trained_on)
        on, train, test = "labeled texts the retrained encoder never saw", rows[~unseen], rows[unseen]
    candidates = np.setdiff1d(context.pool_rows, rows)
    sample = candidates[head.pseudo_label_candidates(len(candidates))]
    figures = {name: comparison.score(comparison.Candidate(side.pool[train], side.pool[test], side.classes,
                                                           side.pool[sample]), y[train], y[test], n, settings.head)
               for name, side in (("new", new), ("old", old))}
    decision = comparison.decide(figures["new"], figures["old"], on)
    (winner, w_reason), (loser, l_reason) = (((new, decision.reason_new), (old, decision.reason_old))
                                             if decision.new_wins else
                                             ((old, decision.reason_old), (new, decision.reason_new)))
    kept = _head_version(context, rows, loser, now, serial, t0)
    served = _head_version(context, rows, winner, now, serial + 1, t0)
    kept.servable, kept.reason, served.reason = False, l_reason, w_reason
    kept.published_s = served.published_s  # both are published by the one job
    return kept, served, winner


def _head_version(context: _Context, rows: np.ndarray, encoder: _Encoder, now: float, serial: int,
                  t0: float) -> _Version:
    """A head on `encoder` with every label in `rows`, its queue and test scores; its compute time from `t0`."""
    data, settings, n = context.data, context.settings, len(context.data.names)
    candidates = np.setdiff1d(context.pool_rows, rows)
    model = head.fit(encoder.pool[rows], data.y_pool[rows], settings.head,
                     unlabeled=encoder.pool[candidates[head.pseudo_label_candidates(len(candidates))]],
                     class_examples=encoder.classes)
    probs = head.predict_proba(model, encoder.pool, n)
    queue = _publish_work(context, probs, encoder.pool, rows, candidates, encoder.classes)
    compute_s = time.perf_counter() - t0
    scores = evaluation.scores(data.y_test, head.predict_proba(model, encoder.test, n).argmax(1))
    return _Version("head", now, now + compute_s, compute_s, len(rows), serial, queue, scores)


def _full_job(context: _Context, rows: np.ndarray, encoder: _Encoder, now: float,
              serial: int) -> tuple[_Version, _Encoder]:
    data, settings = context.data, context.settings
    t0 = time.perf_counter()
    budget = classifiers.TimeBudget(settings.retrain_budget(context.device))
    held_out = comparison.held_out(rows, data.y_pool[rows])  # rows stand in for example ids
    trained_rows = rows[~held_out]
    trained = classifiers.train(settings.family, context.model, [data.pool_texts[i] for i in trained_rows],
                                data.y_pool[trained_rows], data.names, settings.family_arguments(), budget=budget)
    vectors, probs = trained.embed_and_score(data.pool_texts)
    queue = _publish_work(context, probs, vectors, trained_rows, np.setdiff1d(context.pool_rows, rows))
    compute_s = time.perf_counter() - t0
    test_vectors, test_probs = trained.embed_and_score(data.test_texts)  # off the clock: the app never does this
    class_vectors = trained.embed_and_score([class_examples.example_text(n) for n in data.names])[0]
    scores = evaluation.scores(data.y_test, test_probs.argmax(1))
    return (_Version("full", now, now + compute_s, compute_s, len(rows), serial, queue, scores, servable=False,
                     reason="a retrain's own version"),
            _Encoder(np.asarray(vectors, dtype=np.float32), np.asarray(test_vectors, dtype=np.float32),
                     np.asarray(class_vectors, dtype=np.float32), rows[held_out], len(rows)))


def _publish_work(context: _Context, probs, vectors, rows, candidates,
                  class_vectors: np.ndarray | None = None) -> np.ndarray:
    """What `publishing.publish` computes before it writes: cross-validation, then the queue."""
    settings, y = context.settings, context.data.y_pool
    sample = candidates[head.pseudo_label_candidates(len(candidates), CV_PSEUDO_CANDIDATES)]
    evaluation.cross_validate(vectors[rows], y[rows], settings.head, unlabeled=vectors[sample],
                              class_examples=class_vectors if settings.head.class_names else None)
    return strategies.rank_queue(settings.strategy, probs, vectors, candidates, settings.queue_size,
                                 settings.batch_size, np.random.default_rng(len(rows)),
                                 class_counts=class_counts(y[rows], len(context.data.names)), labeled=rows).indices
