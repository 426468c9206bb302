"""What the worker's jobs do: embed the pool, refit the head, retrain the encoder.

Each function reads the store, computes, writes artifacts atomically and publishes the
result in one transaction, so a crash at any point leaves the last good version serving.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

import numpy as np

from core import artifacts, embeddings, evaluation, stopping, store, strategies
from core.classifiers import head, setfit_encoder

Progress = Callable[[float, str], None]


def _noop(_fraction: float, _message: str) -> None:
    pass


class NothingToDo(Exception):
    """The job has no work (e.g. too few labels); it finishes with this message and no version."""


# ---------------------------------------------------------------- embed


def embed_pool(db, project_id: int, job_id: int | None = None, progress: Progress = _noop) -> int:
    """Embed every example the latest encoder lacks (all of them the first time)."""
    project = store.project(db, project_id)
    latest = store.latest_encoder(db, project_id)
    model = latest["model"] if latest else project["model"]
    all_ids = np.array(store.example_ids(db, project_id), dtype=np.int64)
    old_ids = embeddings.read(latest["path"])[0] if latest else np.array([], np.int64)
    missing = np.setdiff1d(all_ids, old_ids)
    if len(missing) == 0:
        raise NothingToDo("every text is already embedded")
    progress(0.0, f"loading encoder for {len(missing):,} texts")
    encoder = embeddings.load_encoder(model)
    texts = store.texts_by_id(db, missing.tolist())
    started = time.perf_counter()
    vectors = embeddings.encode(encoder, [texts[i] for i in missing], progress=lambda f, m: progress(0.95 * f, m))
    return publish_embeddings(db, project_id, missing, vectors, time.perf_counter() - started, job_id)


def publish_embeddings(db, project_id: int, ids: np.ndarray, vectors: np.ndarray, seconds: float,
                       job_id: int | None = None) -> int:
    """Add embeddings of `ids` to the latest encoder's as a new encoder artifact, with a cold-start queue."""
    project = store.project(db, project_id)
    latest = store.latest_encoder(db, project_id)
    added = len(ids)
    if latest:
        old_ids, old_vectors = embeddings.read(latest["path"])
        ids, vectors = np.concatenate([old_ids, ids]), np.concatenate([np.asarray(old_vectors), vectors])
    order = np.argsort(ids, kind="stable")
    ids, vectors = ids[order], vectors[order]
    with artifacts.atomic_dir(artifacts.project_dir(project_id) / "encoders", "enc") as (tmp, final):
        embeddings.write(tmp, ids, vectors)
        write_cold_start_queue(db, project_id, tmp, ids, vectors)
    with store.transaction(db) as conn:
        encoder_id = store.add_encoder(conn, project_id, latest["model"] if latest else project["model"], str(final),
                                       len(ids), vectors.shape[1], seconds, latest["version_id"] if latest else None)
        if job_id is not None:
            store.finish_job(conn, job_id, message=f"embedded {added:,} texts in {seconds:.1f} s")
        if store.label_count(db, project_id):
            store.enqueue(conn, project_id, store.HEAD, {"reason": "new embeddings"})
    return encoder_id


COLD_START_BATCH = 50


def write_cold_start_queue(db, project_id: int, directory: Path, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Before any model: typical, diverse texts first (k-means centroids), then a shuffled rest."""
    settings = store.project(db, project_id)["settings"]
    labeled = [r["example_id"] for r in store.current_labels(db, project_id)]
    pool = np.setdiff1d(store.example_ids(db, project_id, store.POOL), labeled)
    candidates = np.flatnonzero(np.isin(ids, pool))
    queue = strategies.rank_queue("kmeans", None, vectors, candidates, settings["queue_size"],
                                  min(COLD_START_BATCH, settings["queue_size"]), np.random.default_rng(0))
    artifacts.save_npy(directory / "queue.npy", ids[queue.indices])
    artifacts.save_npy(directory / "queue_scores.npy", queue.scores.astype(np.float32))


# ---------------------------------------------------------------- labels as arrays


def training_arrays(db, project_id: int, ids: np.ndarray, class_names: list[str]):
    """Rows (into `ids`) and label ids of labeled texts, split into pool (train) and eval."""
    position = {name: i for i, name in enumerate(class_names)}
    labels = store.current_labels(db, project_id)
    watermark = max((r["annotation_id"] for r in labels), default=0)
    out = {}
    for split in (store.POOL, store.EVAL):
        chosen = [r for r in labels if r["split"] == split and r["label"] in position]
        example_ids = np.array([r["example_id"] for r in chosen], dtype=np.int64)
        rows = np.searchsorted(ids, example_ids)
        present = (rows < len(ids)) & (ids[np.minimum(rows, len(ids) - 1)] == example_ids)
        out[split] = (rows[present], np.array([position[r["label"]] for r in chosen], dtype=np.int64)[present])
    return out[store.POOL], out[store.EVAL], watermark


def class_counts(label_ids: np.ndarray, n_classes: int) -> list[int]:
    return np.bincount(label_ids, minlength=n_classes).tolist()


# ---------------------------------------------------------------- head refit


def refit_head(db, project_id: int, job_id: int | None = None, kind: str = store.HEAD,
               encoder_row: dict | None = None, extra_params: dict | None = None,
               extra_timings: dict | None = None, publish_encoder: Callable | None = None) -> int:
    """Fit the head on the latest encoder's embeddings, score the pool, publish a version."""
    t0 = time.perf_counter()
    project = store.project(db, project_id)
    settings = project["settings"]
    names = store.class_names(db, project_id)
    encoder_row = encoder_row or store.latest_encoder(db, project_id)
    if encoder_row is None:
        raise NothingToDo("the pool is not embedded yet")
    ids, vectors = embeddings.read(encoder_row["path"])
    (rows, y), (eval_rows, eval_y), watermark = training_arrays(db, project_id, ids, names)
    if len(np.unique(y)) < 2:
        raise NothingToDo("waiting for labels of at least two classes")
    args = head.HeadArguments(**settings.get("head", {}))
    train_x = np.asarray(vectors[np.sort(rows)], dtype=np.float32)
    train_y = y[np.argsort(rows, kind="stable")]
    model = head.fit(train_x, train_y, args)
    t_fit = time.perf_counter()
    probs = head.predict_proba(model, vectors, len(names))
    t_score = time.perf_counter()

    pool_rows = np.flatnonzero(np.isin(ids, store.example_ids(db, project_id, store.POOL)))
    candidates = np.setdiff1d(pool_rows, rows)
    metrics = evaluation.cross_validate(train_x, train_y, args)
    metrics["mean_uncertainty"] = stopping.mean_uncertainty(probs[candidates])
    if len(eval_rows):
        metrics.update({f"eval_{k}": v for k, v in evaluation.scores(eval_y, probs[eval_rows].argmax(1)).items()})
        metrics["eval_n"] = int(len(eval_rows))
    previous = store.latest_version(db, project_id)
    metrics.update(_stability(db, previous, ids, probs))
    t_metrics = time.perf_counter()

    rng = np.random.default_rng(watermark)
    queue = strategies.rank_queue(settings["strategy"], probs, vectors, candidates, settings["queue_size"],
                                  settings["batch_size"], rng, class_counts=class_counts(y, len(names)),
                                  labeled=rows)
    t_query = time.perf_counter()

    version_dir_parent = artifacts.project_dir(project_id) / "versions"
    with artifacts.atomic_dir(version_dir_parent, "v") as (tmp, final):
        artifacts.save_npy(tmp / "probs.npy", probs)
        artifacts.save_npy(tmp / "queue.npy", ids[queue.indices])
        artifacts.save_npy(tmp / "queue_scores.npy", queue.scores.astype(np.float32))
        import joblib

        joblib.dump(model, tmp / "head.joblib")
        (tmp / "classes.json").write_text(json.dumps(names))
    timings = {"fit_s": t_fit - t0, "score_s": t_score - t_fit, "metrics_s": t_metrics - t_score,
               "query_s": t_query - t_metrics, "total_s": time.perf_counter() - t0, **(extra_timings or {})}
    params = {"head": args.to_dict(), "strategy": queue.strategy, **(extra_params or {})}
    with store.transaction(db) as conn:
        encoder_id = publish_encoder(conn) if publish_encoder else encoder_row["id"]
        version_id = store.publish_version(
            conn, project_id, kind, encoder_id, str(final), watermark, int(len(y)), metrics, params, timings,
            parent_id=previous["id"] if previous else None, job_id=job_id)
        if job_id is not None:
            store.finish_job(conn, job_id, version_id, f"published version with {len(y)} labels")
    return version_id


def _stability(db, previous: dict | None, ids: np.ndarray, probs: np.ndarray) -> dict:
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


# ---------------------------------------------------------------- full retrain


def full_retrain(db, project_id: int, job_id: int | None = None, progress: Progress = _noop) -> int:
    """Fine-tune the encoder with SetFit, re-embed the pool, refit the head, publish a `full` version."""
    project = store.project(db, project_id)
    names = store.class_names(db, project_id)
    base = store.latest_encoder(db, project_id)
    if base is None:
        raise NothingToDo("the pool is not embedded yet")
    ids, _ = embeddings.read(base["path"])
    (rows, y), _, watermark = training_arrays(db, project_id, ids, names)
    counts = np.bincount(y, minlength=len(names))
    if (counts >= 2).sum() < 2:
        raise NothingToDo("a full retrain needs at least two classes with two labels each")
    texts_by = store.texts_by_id(db, ids[rows].tolist())
    texts = [texts_by[i] for i in ids[rows]]
    args = setfit_encoder.SetFitArguments(**project["settings"].get("setfit", {}))
    encoders_parent = artifacts.project_dir(project_id) / "encoders"
    t0 = time.perf_counter()
    with artifacts.atomic_dir(encoders_parent, "enc") as (tmp, final):
        body_dir = tmp / "body"
        # SetFit always starts from the project's base model, not the last fine-tuned one,
        # so errors do not compound across retrains.
        train_info = setfit_encoder.train_encoder(project["model"], texts, y, body_dir, args,
                                                  progress=lambda f, m: progress(0.6 * f, m))
        t_train = time.perf_counter()
        encoder = embeddings.load_encoder.__wrapped__(str(body_dir))
        all_texts = store.texts_by_id(db, ids.tolist())
        vectors = embeddings.encode(encoder, [all_texts[i] for i in ids],
                                    progress=lambda f, m: progress(0.6 + 0.35 * f, m))
        embeddings.write(tmp, ids, vectors)
        t_embed = time.perf_counter()
    final_body = str(final / "body")
    encoder_row = {"id": None, "path": str(final), "model": final_body}

    def publish_encoder(conn) -> int:
        return store.add_encoder(conn, project_id, final_body, str(final), len(ids), vectors.shape[1],
                                 t_embed - t_train)

    progress(0.97, "fitting the head on the new embeddings")
    return refit_head(db, project_id, job_id, kind=store.FULL, encoder_row=encoder_row,
                      extra_params={"setfit": args.to_dict(), "base_model": project["model"]},
                      extra_timings={"train_s": t_train - t0, "embed_s": t_embed - t_train,
                                     "train_steps": train_info["steps"], "device": train_info["device"],
                                     "precision": train_info["precision"]},
                      publish_encoder=publish_encoder)


# ---------------------------------------------------------------- export


def export_model(db, version_id: int, out_dir: Path) -> Path:
    """A directory that `SetFitModel.from_pretrained` loads: the version's encoder plus its head."""
    import joblib

    from core import config

    row = store.version(db, version_id)
    enc = store.encoder(db, row["encoder_id"])
    body = enc["model"]
    body_dir = Path(body) if Path(body).exists() else Path(config.resolve_model(body))
    names = json.loads((Path(row["path"]) / "classes.json").read_text())
    setfit_encoder.save_setfit_model(body_dir, joblib.load(Path(row["path"]) / "head.joblib"), names, out_dir)
    card = [f"# Sieve model: version {row['number']} ({row['kind']})", "",
            f"- classes: {', '.join(names)}", f"- labels: {row['n_labels']}",
            f"- base encoder: {body}", f"- metrics: {json.dumps(row['metrics'])}",
            f"- parameters: {json.dumps(row['params'])}", "",
            "Load with `setfit.SetFitModel.from_pretrained(path)`; `model.predict([...])` returns class names."]
    (out_dir / "README.md").write_text("\n".join(card) + "\n")
    return out_dir
