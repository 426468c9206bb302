"""Publishing a scored model version: its figures, its next queue, its artifacts, its row.

Artifacts are written to a temporary directory and moved into place before the version row
(and, for a full retrain, its encoder row) is inserted in one transaction, so a reader never
sees a half-written version and a crash leaves the last good version serving.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import artifacts, store
from core.learning import embeddings, evaluation, stopping, strategies
from core.jobs.label_arrays import LabelRows, class_counts, unlabeled_pool_rows, unlabeled_sample

CV_PSEUDO_CANDIDATES = 5_000  # each cross-validation fold self-trains on a smaller sample: 5 fits per refit


@dataclass
class VersionRecord:
    """Everything a new version is made of. `encoder_id` names the encoder it scored with, or
    `new_encoder` is published with it."""

    project_id: int
    kind: str  # store.JobKind.HEAD or store.JobKind.FULL
    ids: np.ndarray  # example ids of the encoder's rows
    vectors: np.ndarray  # the pool's embeddings (may be memory-mapped)
    probs: np.ndarray  # class probabilities for every row
    labels: LabelRows
    params: dict
    timings: dict
    head_model: object | None = None  # a scikit-learn head kept with the version (exported with SetFit)
    encoder_id: int | None = None
    new_encoder: store.NewEncoder | None = None
    candidates: np.ndarray | None = None  # unlabeled pool rows, when the caller has them already
    job_id: int | None = None
    extra_metrics: dict = field(default_factory=dict)
    class_examples: np.ndarray | None = None  # embedded class names the head learned from (core.class_examples)


def publish(db, record: VersionRecord) -> int:
    """Metrics, stopping figures and the next queue for the record's probabilities; then publish.

    Cross-validation refits the fast head on this version's embeddings (cheap, and the same
    estimate for every kind); eval accuracy comes from `probs`, the version's own predictions.
    """
    if (record.encoder_id is None) == (record.new_encoder is None):
        raise ValueError("A version names exactly one encoder: an existing one or a new one.")
    t0 = time.perf_counter()
    project_id, labels, probs, vectors = record.project_id, record.labels, record.probs, record.vectors
    settings = store.settings(db, project_id)
    names = store.class_names(db, project_id)
    candidates = record.candidates
    if candidates is None:
        candidates = unlabeled_pool_rows(db, project_id, record.ids, labels.rows)
    rows, y = labels.sorted_train()
    metrics = evaluation.cross_validate(np.asarray(vectors[rows], dtype=np.float32), y, settings.head,
                                        unlabeled=unlabeled_sample(vectors, candidates, CV_PSEUDO_CANDIDATES),
                                        class_examples=record.class_examples)
    metrics["mean_uncertainty"] = stopping.mean_uncertainty(probs[candidates])
    if len(labels.eval_rows):
        metrics.update(evaluation.eval_figures(labels.eval_y, probs[labels.eval_rows].argmax(1)))
    previous = store.latest_version(db, project_id)
    metrics.update(stability(db, previous, record.ids, probs))
    metrics.update(record.extra_metrics)
    t_metrics = time.perf_counter()
    queue = strategies.rank_queue(settings.strategy, probs, vectors, candidates, settings.queue_size,
                                  settings.batch_size, np.random.default_rng(labels.watermark),
                                  class_counts=class_counts(labels.y, len(names)), labeled=labels.rows)
    t_query = time.perf_counter()
    with artifacts.atomic_dir(artifacts.project_dir(project_id) / "versions", "v") as (tmp, final):
        artifacts.save_npy(tmp / "probs.npy", probs.astype(np.float32))
        artifacts.save_npy(tmp / "queue.npy", record.ids[queue.indices])
        artifacts.save_npy(tmp / "queue_scores.npy", queue.scores.astype(np.float32))
        if record.head_model is not None:
            from core.learning.classifiers import head

            head.save(record.head_model, tmp)  # arrays and JSON: loading it runs no code
        (tmp / "classes.json").write_text(json.dumps(names))
    timings = {**record.timings, "metrics_s": t_metrics - t0, "query_s": t_query - t_metrics}
    params = {**record.params, "strategy": queue.strategy}
    with artifacts.discarded_unless_published(final), store.transaction(db) as conn:
        store.check_open(conn, record.job_id)  # a cancelled job (a deleted project) publishes nothing
        encoder_id = record.encoder_id
        if record.new_encoder is not None:
            encoder_id = store.add_encoder(conn, project_id, record.new_encoder)
        version_id = store.publish_version(conn, project_id, store.NewVersion(
            record.kind, encoder_id, str(final), labels.watermark, int(len(labels.y)), metrics, params, timings,
            parent_id=previous["id"] if previous else None, job_id=record.job_id))
        if record.job_id is not None:
            store.finish_job(conn, record.job_id, version_id, f"published version with {len(labels.y)} labels")
        if record.new_encoder is not None:
            # Labels given while the retrain ran are not in it: a head refit on the new encoder with
            # every current label follows at once, so the served model is never behind the labels.
            store.enqueue_coalesced(conn, project_id, store.JobKind.HEAD, {"reason": "refit on the new encoder with every label"},
                          priority=10)
    return version_id


def stability(db, previous: dict | None, ids: np.ndarray, probs: np.ndarray) -> dict:
    """Cohen's kappa between this and the previous version's pool predictions (a stopping signal)."""
    if previous is None:
        return {}
    from sklearn.metrics import cohen_kappa_score

    old_probs = np.load(Path(previous["path"]) / "probs.npy", mmap_mode="r")
    old_ids = embeddings.read(store.encoder(db, previous["encoder_id"])["path"])[0]
    common, old_rows, new_rows = np.intersect1d(old_ids, ids, assume_unique=True, return_indices=True)
    if len(common) == 0 or old_probs.shape[1] != probs.shape[1]:
        return {}
    old_pred, new_pred = np.asarray(old_probs[old_rows]).argmax(1), probs[new_rows].argmax(1)
    if (old_pred == new_pred).all():
        return {"kappa_previous": 1.0}
    return {"kappa_previous": float(cohen_kappa_score(old_pred, new_pred))}
