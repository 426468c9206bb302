"""The head refit of a multi-label project (issue 21): one-vs-rest heads on the latest encoder's
embeddings, thresholds tuned by cross-validation on the pool's labels, figures on the eval
sample, the next queue by a multi-label strategy, published as a `head` version.

A version directory holds `probs.npy` (texts x labels, each label's own probability),
`thresholds.json`, `head_multilabel.json` (`core.learning.multilabel`; a classifier chain's is
`head_multilabel_chain.json`, `core.learning.multilabel_chain`), `queue.npy`,
`queue_scores.npy` and `classes.json`, so the annotate flow reads its queue as for single-label.
Before the first version the embed job's k-means cold start (typical, diverse texts) serves.

A full retrain (`full_retrain`) trains the project's family on the label sets
(`core.learning.multilabel_full`: SetFit with shared-label pairs, or a transformer with
problem_type="multi_label_classification"), re-embeds the pool with the fine-tuned encoder at the
base encoder's own length, and publishes a `full` version with the same files (a transformer's
version has no head file: its own head scored `probs.npy`) and a new encoder; a head
refit on that encoder with every current label follows at once.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from core import artifacts, store
from core.learning import neighbours
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
    chained = settings.multi_target_strategy == "classifier-chain"
    if chained:  # each label also reads the decisions on the labels before it (core.learning.multilabel_chain)
        from core.learning import multilabel_chain

        fit = multilabel_chain.fit
    else:
        fit = ml.fit
    model = fit(np.asarray(vectors[rows], dtype=np.float32), Y, classes, class_examples=examples, seed=int(watermark))
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
    params = {"head": {"kind": "classifier-chain logistic" if chained else "one-vs-rest logistic", "C": ml.DEFAULT_C,
                       "class_names": examples is not None},
              "multilabel": True, "strategy": strategy}
    with store.transaction(db) as conn:
        version_id = store.publish_version(conn, project_id, store.NewVersion(
            store.JobKind.HEAD, encoder_row["id"], str(final), watermark, int(len(rows)), metrics, params, timings,
            parent_id=previous["id"] if previous else None, job_id=job_id))
        if job_id is not None:
            store.finish_job(conn, job_id, version_id, f"published a multi-label version with {len(rows)} labels")
    return version_id


def _noop(_fraction: float, _message: str) -> None:
    pass


def full_retrain(db, project_id: int, job_id: int | None = None, progress=_noop) -> int:
    """Train the project's family on every pool label set, re-embed and score the pool, publish a `full` version."""
    from core.learning import classifiers, multilabel_full

    project = store.project(db, project_id)
    settings = project["settings"]
    encoder_row = store.latest_encoder(db, project_id)
    if encoder_row is None:
        raise NotYet("the pool is not embedded yet")
    family = settings.family
    multilabel_full.check_family(family)
    classes = store.class_names(db, project_id)
    watermark = store.max_annotation_id(db, project_id)
    ids, _ = embeddings.read(encoder_row["path"])
    rows, Y = label_matrix(db, project_id, ids, classes, store.Split.POOL)
    if len(rows) < multilabel_full.MIN_TEXTS or (Y.sum(0) >= 2).sum() < 1:
        raise NotYet(f"a multi-label full retrain needs {multilabel_full.MIN_TEXTS} labeled texts and a label "
                     "given at least twice")
    order = np.argsort(rows)
    rows, Y = rows[order], Y[order]
    texts_by = store.texts_by_id(db, ids.tolist())
    t0 = time.perf_counter()
    budget = classifiers.TimeBudget(settings.retrain_budget(embeddings.device()))
    trained = multilabel_full.train(family, project["model"], [texts_by[i] for i in ids[rows]], Y, classes,
                                    settings.family_arguments(), settings.multi_target_strategy,
                                    progress=lambda f, m: progress(0.7 * f, m), budget=budget, seed=int(watermark))
    t_train = time.perf_counter()
    progress(0.7, f"scoring {len(ids):,} texts with the new model")
    vectors, probs = trained.embed_and_score([texts_by[i] for i in ids])
    t_embed = time.perf_counter()
    with artifacts.atomic_dir(artifacts.project_dir(project_id) / "encoders", "enc") as (tmp, enc_final):
        trained.save(tmp / "model")
        embeddings.write(tmp, ids, vectors)
        neighbours.save(tmp, vectors)
    progress(0.95, "publishing")
    thresholds = trained.thresholds
    metrics: dict = {"n_train": int(len(rows)), "mean_cardinality": float(Y.sum(1).mean()),
                     "thresholds_tuned_on": trained.params["thresholds_tuned_on"]}
    eval_rows, eval_Y = label_matrix(db, project_id, ids, classes, store.Split.EVAL)
    if len(eval_rows):
        metrics.update(ml.eval_figures(eval_Y, probs[eval_rows] >= thresholds, classes))
    candidates = unlabeled_pool_rows(db, project_id, ids, rows)
    metrics["mean_uncertainty"] = ml.pool_uncertainty(probs[candidates], thresholds)
    metrics.update(stability(db, store.latest_version(db, project_id), ids, probs >= thresholds))
    strategy = ml.DEFAULT_STRATEGY
    queue, queue_scores = ml.rank(strategy, probs, thresholds, candidates, settings.queue_size,
                                  np.random.default_rng(watermark), metrics["mean_cardinality"],
                                  label_counts=Y.sum(0), embeddings=vectors)
    with artifacts.atomic_dir(artifacts.project_dir(project_id) / "versions", "v") as (tmp, final):
        artifacts.save_npy(tmp / "probs.npy", probs.astype(np.float32))
        artifacts.save_npy(tmp / "queue.npy", ids[queue])
        artifacts.save_npy(tmp / "queue_scores.npy", queue_scores.astype(np.float32))
        if trained.head is not None:
            trained.head.save(tmp)
        (tmp / "thresholds.json").write_text(json.dumps(np.asarray(thresholds).tolist()))
        (tmp / "classes.json").write_text(json.dumps(classes))
    info = trained.info
    params = {"family": family, family: settings.family_arguments().to_dict(), "base_model": project["model"],
              "multilabel": True, "strategy": strategy, **{k: v for k, v in trained.params.items() if v is not None}}
    timings = {"train_s": t_train - t0, "embed_s": t_embed - t_train, "train_steps": info.steps,
               "device": info.device, "precision": info.precision, "budget_s": budget.seconds,
               "stopped_at_budget": info.stopped_at_budget}
    previous = store.latest_version(db, project_id)
    with artifacts.discarded_unless_published(final), artifacts.discarded_unless_published(enc_final), \
            store.transaction(db) as conn:
        store.check_open(conn, job_id)  # a cancelled job (a deleted project) publishes nothing
        encoder_id = store.add_encoder(conn, project_id, store.NewEncoder(
            str(enc_final / "model"), str(enc_final), len(ids), vectors.shape[1], t_embed - t_train,
            trained.encoder_family))
        version_id = store.publish_version(conn, project_id, store.NewVersion(
            store.JobKind.FULL, encoder_id, str(final), watermark, int(len(rows)), metrics, params, timings,
            parent_id=previous["id"] if previous else None, job_id=job_id))
        if job_id is not None:
            store.finish_job(conn, job_id, version_id,
                             f"published a multi-label {classifiers.title(family)} version with {len(rows)} labels")
        # labels given while it trained are not in it: the heads refit on the new encoder with every label
        store.enqueue_coalesced(conn, project_id, store.JobKind.HEAD, {"reason": "refit on the new encoder with every label"},
                                priority=10)
    store.update_timing(db, version_id, "total_s", time.perf_counter() - t0)
    if store.example_count(db, project_id) > len(ids):  # texts added while it trained: embed them too
        with store.transaction(db) as conn:
            store.enqueue(conn, project_id, store.JobKind.EMBED, {"reason": "texts added during a retrain"}, priority=10)
    return version_id
