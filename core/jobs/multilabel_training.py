"""The head refit of a multi-label project (issue 21): one-vs-rest heads on the latest encoder's
embeddings, thresholds tuned by cross-validation on the pool's labels, figures on the eval
sample, the next queue by a multi-label strategy, published as a `head` version.

A version directory holds `probs.npy` (texts x labels, each label's own probability),
`thresholds.json`, `head_multilabel.json` (`core.learning.multilabel`), `queue.npy`,
`queue_scores.npy` and `classes.json`, so the annotate flow reads its queue as for single-label.
Before the first version the embed job's k-means cold start (typical, diverse texts) serves.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from core import artifacts, store
from core.jobs.label_arrays import unlabeled_pool_rows
from core.labeling import multilabel as labeling
from core.learning import class_examples, embeddings, labelsets
from core.learning import multilabel as ml

MIN_LABELED = 4  # texts with a set before the first head


class NotYet(Exception):
    """Not enough labels (or no embeddings) for a multi-label head."""


def label_matrix(db, project_id: int, ids: np.ndarray, classes: list[str], split: str):
    """(rows of `ids`, texts x labels 0/1) of the final sets in `split`."""
    finals = [f for f in labeling.final_sets(db, project_id, split)]
    example_ids = np.array([f.example_id for f in finals], dtype=np.int64)
    rows = np.searchsorted(ids, example_ids)
    present = (rows < len(ids)) & (ids[np.minimum(rows, max(len(ids) - 1, 0))] == example_ids)
    Y = labelsets.one_hot([f.labels for f, keep in zip(finals, present) if keep], classes)
    return rows[present], Y


def stability(db, previous: dict | None, ids: np.ndarray, predicted: np.ndarray) -> dict:
    """Per-label kappa between this and the previous multi-label version's pool predictions (the
    stabilizing-predictions stopping signal, core.learning.stopping), on the texts both scored."""
    if previous is None or not (Path(previous["path"]) / "thresholds.json").exists():
        return {}
    old_probs = np.load(Path(previous["path"]) / "probs.npy", mmap_mode="r")
    old_thresholds = np.asarray(json.loads((Path(previous["path"]) / "thresholds.json").read_text()))
    old_ids = embeddings.read(store.encoder(db, previous["encoder_id"])["path"])[0]
    common, old_rows, new_rows = np.intersect1d(old_ids, ids, assume_unique=True, return_indices=True)
    if len(common) == 0 or old_probs.shape[1] != predicted.shape[1]:
        return {}
    return {"kappa_previous": ml.set_agreement(np.asarray(old_probs[old_rows]) >= old_thresholds, predicted[new_rows])}


def refit(db, project_id: int, job_id: int | None = None) -> int:
    t0 = time.perf_counter()
    encoder_row = store.latest_encoder(db, project_id)
    if encoder_row is None:
        raise NotYet("the pool is not embedded yet")
    settings = store.settings(db, project_id)
    classes = store.class_names(db, project_id)
    watermark = store.max_annotation_id(db, project_id)
    ids, vectors = embeddings.read(encoder_row["path"])
    rows, Y = label_matrix(db, project_id, ids, classes, store.Split.POOL)
    if len(rows) < MIN_LABELED:
        raise NotYet(f"waiting for {MIN_LABELED} labeled texts")
    order = np.argsort(rows)
    rows, Y = rows[order], Y[order]
    examples = class_examples.for_encoder(encoder_row, store.classes(db, project_id)) if settings.head.class_names else None
    model = ml.fit(np.asarray(vectors[rows], dtype=np.float32), Y, classes, class_examples=examples,
                   seed=int(watermark))
    t_fit = time.perf_counter()
    probs = model.probabilities(np.asarray(vectors, dtype=np.float32))
    t_score = time.perf_counter()
    metrics: dict = {"n_train": int(len(rows)), "mean_cardinality": float(Y.sum(1).mean()),
                     "thresholds_tuned_on": "pool labels (cross-validation)"}
    eval_rows, eval_Y = label_matrix(db, project_id, ids, classes, store.Split.EVAL)
    if len(eval_rows):
        metrics.update(ml.eval_figures(eval_Y, probs[eval_rows] >= model.thresholds, classes))
    candidates = unlabeled_pool_rows(db, project_id, ids, rows)
    previous = store.latest_version(db, project_id)
    metrics["mean_uncertainty"] = ml.pool_uncertainty(probs[candidates], model.thresholds)
    metrics.update(stability(db, previous, ids, probs >= model.thresholds))
    strategy = ml.DEFAULT_STRATEGY
    queue, queue_scores = ml.rank(strategy, probs, model.thresholds, candidates, settings.queue_size,
                                  np.random.default_rng(watermark), metrics["mean_cardinality"],
                                  label_counts=Y.sum(0), embeddings=vectors)
    with artifacts.atomic_dir(artifacts.project_dir(project_id) / "versions", "v") as (tmp, final):
        artifacts.save_npy(tmp / "probs.npy", probs.astype(np.float32))
        artifacts.save_npy(tmp / "queue.npy", ids[queue])
        artifacts.save_npy(tmp / "queue_scores.npy", queue_scores.astype(np.float32))
        model.save(tmp)
        (tmp / "thresholds.json").write_text(json.dumps(model.thresholds.tolist()))
        (tmp / "classes.json").write_text(json.dumps(classes))
    timings = {"fit_s": t_fit - t0, "score_s": t_score - t_fit, "total_s": time.perf_counter() - t0}
    params = {"head": {"kind": "one-vs-rest logistic", "C": ml.DEFAULT_C, "class_names": examples is not None},
              "multilabel": True, "strategy": strategy}
    with store.transaction(db) as conn:
        version_id = store.publish_version(conn, project_id, store.NewVersion(
            store.JobKind.HEAD, encoder_row["id"], str(final), watermark, int(len(rows)), metrics, params, timings,
            parent_id=previous["id"] if previous else None, job_id=job_id))
        if job_id is not None:
            store.finish_job(conn, job_id, version_id, f"published a multi-label version with {len(rows)} labels")
    return version_id
