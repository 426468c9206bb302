"""Predictions on new data: a version scores texts from an uploaded file, in the worker.

The UI calls `request_predict`: the file is read and checked as an import is (`imports.read_table`),
its texts are stored inside the data directory (the project's `predict/` artifacts) and a
`predict` job is queued. The worker (`run_predict`) loads the version, scores the texts in chunks
with progress and writes the predictions (text, predicted class, confidence, one probability
column per class) as CSV or Parquet under the project's `predictions/`. `python -m core predict`
does the same in-process (`predict_texts`).

A version predicts as it scores the pool: a `full` version with its family's own model, a `head`
version by embedding with its encoder and applying its head (arrays, never a pickle: `head.load`).
A multi-label version (issue 21) embeds the same way and applies its one-vs-rest heads: each text
gets its set of labels (every label whose probability reaches the label's threshold, the sets the
app serves: `multilabel_export.predict_sets`) in a `labels` column (a list in Parquet, a JSON list
in CSV) and every label's probability.
"""
from __future__ import annotations

import io as stdio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from core import artifacts, store
from core.files import exports
from core.learning.classifiers.protocol import Progress

FORMATS = ("csv", "parquet")
CHUNK = 1024  # texts per progress report
PRIORITY = 2


class PredictFailed(ValueError):
    """A file or request that cannot be predicted on, with a message for the user."""


def input_dir(project_id: int) -> Path:
    return artifacts.project_dir(project_id) / "predict"


def output_dir(project_id: int) -> Path:
    return artifacts.project_dir(project_id) / "predictions"


def texts_of(frame: pd.DataFrame, text_column: str) -> list[str]:
    """The texts of a file read by `imports.read_table`, checked as an import checks its text column."""
    if text_column not in frame.columns:
        raise PredictFailed(f"The file has no column {text_column!r}; it has {', '.join(map(str, frame.columns))}.")
    kind = frame.attrs.get("column_kinds", {}).get(text_column)
    if kind:
        raise PredictFailed(f"Column {text_column!r} holds {kind} values, not texts.")
    texts = ["" if v is None else str(v) for v in frame[text_column].tolist()]
    if not any(t.strip() for t in texts):
        raise PredictFailed(f"Column {text_column!r} holds no texts.")
    return texts


def request_predict(db, actor, project_id: int, version_id: int, frame: pd.DataFrame, text_column: str,
                    fmt: str = "csv", filename: str = "") -> int:
    """Store the file's texts in the data directory and queue a `predict` job; returns its id.
    Predictions take the model out of Sieve, as an export does: export permission."""
    from core.team import auth

    auth.require(db, actor, auth.EXPORT, project_id)
    if fmt not in FORMATS:
        raise PredictFailed(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    version = store.version(db, version_id)
    if version is None or version["project_id"] != project_id:
        raise PredictFailed("That model version does not exist.")
    texts = texts_of(frame, text_column)
    folder = input_dir(project_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"in-{uuid.uuid4().hex}.parquet"
    partial = path.with_suffix(".partial")
    pd.DataFrame({"text": texts}).to_parquet(partial, index=False)
    os.replace(partial, path)
    with store.transaction(db) as conn:
        return store.enqueue(conn, project_id, store.JobKind.PREDICT,
                             {"version_id": version_id, "input": path.name, "format": fmt, "n": len(texts),
                              "filename": Path(filename).name}, priority=PRIORITY)


# ---------------------------------------------------------------- scoring


def is_multilabel(version: dict) -> bool:
    """A multi-label version: one-vs-rest heads with per-label thresholds (`core.learning.multilabel`)."""
    return bool(version["params"].get("multilabel"))


def _multilabel_head(version: dict):
    """The version's heads (one-vs-rest, or a classifier chain), or None: a transformer's full
    version scores with its own sigmoid head (core.learning.multilabel_full)."""
    from core.learning import multilabel as ml
    from core.learning import multilabel_chain

    path = Path(version["path"])
    if not any((path / name).exists() for name in (ml.HEAD_JSON, multilabel_chain.HEAD_CHAIN_JSON)):
        return None
    return multilabel_chain.load_head(path)


def _multilabel_thresholds(version: dict) -> np.ndarray:
    return np.asarray(json.loads((Path(version["path"]) / "thresholds.json").read_text()), dtype=float)


def _embedder(enc: dict) -> Callable[[Sequence[str]], np.ndarray]:
    """The encoder's normalised embeddings, as the pool was embedded."""
    from core.learning import classifiers, embeddings

    if enc["family"] == "transformer":
        body = classifiers.load("transformer", Path(enc["model"]))
        return lambda texts: body.embed_and_score(list(texts))[0]
    encoder = embeddings.load_encoder(enc["model"])
    return lambda texts: embeddings.encode(encoder, list(texts))


def scorer(db, version: dict) -> Callable[[Sequence[str]], np.ndarray]:
    """A function from texts to class probabilities (one column per project class) for this version
    (a multi-label version: each label's own probability)."""
    from core.learning import classifiers

    enc = store.encoder(db, version["encoder_id"])
    if is_multilabel(version):
        model = _multilabel_head(version)
        if model is None:  # a fine-tuned transformer's own head
            body = classifiers.load("transformer", Path(enc["model"]))
            return lambda texts: body.embed_and_score(list(texts))[1]
        embed = _embedder(enc)
        return lambda texts: model.probabilities(embed(texts))
    n_classes = len(json.loads((Path(version["path"]) / "classes.json").read_text()))
    if version["kind"] == store.JobKind.FULL:
        model = classifiers.load(version["params"].get("family", "setfit"), Path(enc["path"]) / "model")
        return lambda texts: np.asarray(model.embed_and_score(list(texts))[1], dtype=np.float32)
    from core.learning.classifiers import head

    if not (Path(version["path"]) / head.HEAD_JSON).exists():
        raise ValueError(f"Version {version['number']} was stored by an older Sieve as a pickle, which Sieve no "
                         "longer loads; predict with a newer version (the next head refit makes one).")
    fitted = head.load(version["path"])  # arrays and settings, never a pickle
    embed = _embedder(enc)
    return lambda texts: head.predict_proba(fitted, embed(texts), n_classes)


def score_on_ray(db, version: dict, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
    """The same probabilities as `scorer`, computed by the Ray cluster's actor pool in one pass
    (a full version's model scores; a head version's encoder embeds, its head applies here)."""
    from core.jobs import ray_backend

    enc = store.encoder(db, version["encoder_id"])
    report = (lambda f, m: progress(0.05 + 0.9 * f, m)) if progress else None
    if is_multilabel(version):
        model = _multilabel_head(version)
        if model is None:  # a fine-tuned transformer's own head: scored here
            return scorer(db, version)(texts)
        vectors = ray_backend.embed_texts(enc["model"], list(texts), report, family=enc["family"])
        return model.probabilities(vectors)
    if version["kind"] == store.JobKind.FULL:
        family = version["params"].get("family", "setfit")
        return ray_backend.score_texts(family, Path(enc["path"]) / "model", list(texts), report)[1]
    from core.learning.classifiers import head

    if not (Path(version["path"]) / head.HEAD_JSON).exists():
        raise ValueError(f"Version {version['number']} was stored by an older Sieve as a pickle, which Sieve no "
                         "longer loads; predict with a newer version (the next head refit makes one).")
    n_classes = len(json.loads((Path(version["path"]) / "classes.json").read_text()))
    vectors = ray_backend.embed_texts(enc["model"], list(texts), report, family=enc["family"])
    return head.predict_proba(head.load(version["path"]), vectors, n_classes)


def predict_texts(db, version: dict, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
    from core.jobs import ray_backend

    if ray_backend.configured() and len(texts):
        return score_on_ray(db, version, texts, progress)
    score = scorer(db, version)
    out = []
    for start in range(0, len(texts), CHUNK):
        out.append(score(texts[start:start + CHUNK]))
        if progress:
            done = min(start + CHUNK, len(texts))
            progress(0.05 + 0.9 * done / max(len(texts), 1), f"predicted {done:,} of {len(texts):,} texts")
    n_classes = len(store.class_names(db, version["project_id"]))
    return np.concatenate(out) if out else np.zeros((0, n_classes), np.float32)


def predictions_frame(texts: Sequence[str], probs: np.ndarray, names: list[str]) -> pd.DataFrame:
    """text, predicted, confidence, then p(<class>) for every class. A version trained before a class
    was added has no column for it (classes are appended, so its columns are the first ones): 0 there."""
    if probs.shape[1] < len(names):
        probs = np.pad(probs, ((0, 0), (0, len(names) - probs.shape[1])))
    best = probs.argmax(1) if len(probs) else np.zeros(0, int)
    frame = pd.DataFrame({"text": list(texts), "predicted": [names[i] for i in best],
                          "confidence": probs.max(1) if len(probs) else np.zeros(0)})
    for i, name in enumerate(names):
        frame[f"p({name})"] = probs[:, i]
    return frame


def multilabel_frame(texts: Sequence[str], probs: np.ndarray, names: list[str], thresholds: np.ndarray) -> pd.DataFrame:
    """text, labels (the set: every label whose probability reaches its threshold, in class order),
    then p(<class>) for every class. A class added after the version was trained: probability 0,
    never in a set."""
    pad = len(names) - probs.shape[1]
    if pad > 0:
        probs = np.pad(probs, ((0, 0), (0, pad)))
        thresholds = np.concatenate([thresholds, np.full(pad, np.inf)])
    keep = probs >= np.asarray(thresholds)[:len(names)]
    frame = pd.DataFrame({"text": list(texts), "labels": [[names[j] for j in np.flatnonzero(row)] for row in keep]})
    for i, name in enumerate(names):
        frame[f"p({name})"] = probs[:, i]
    return frame


def frame_for(version: dict, texts: Sequence[str], probs: np.ndarray, names: list[str]) -> pd.DataFrame:
    """The predictions file of this version: `multilabel_frame` for a multi-label one, else `predictions_frame`."""
    if is_multilabel(version):
        return multilabel_frame(texts, probs, names, _multilabel_thresholds(version))
    return predictions_frame(texts, probs, names)


def to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    buffer = stdio.BytesIO()
    if fmt == "csv" and "labels" in frame.columns:  # a multi-label set: a JSON list in a CSV cell
        frame = frame.assign(labels=[json.dumps(list(s), ensure_ascii=False) for s in frame["labels"]])
    if fmt == "csv":
        exports.formula_safe(frame).to_csv(buffer, index=False, lineterminator="\r\n")
    else:
        frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def run_predict(db, job: dict, progress: Progress) -> None:
    """The `predict` job: score the stored texts with the version, write the file, record where it is."""
    params = job["params"]
    version = store.version(db, params["version_id"])
    if version is None or version["project_id"] != job["project_id"]:
        raise ValueError("That model version no longer exists.")
    source = input_dir(job["project_id"]) / Path(params["input"]).name  # a name inside the data directory only
    texts = pd.read_parquet(source)["text"].tolist()
    progress(0.02, f"loading version {version['number']}")
    started = time.perf_counter()
    probs = predict_texts(db, version, texts, progress)
    seconds = time.perf_counter() - started
    names = store.class_names(db, job["project_id"])
    frame = frame_for(version, texts, probs, names)
    with artifacts.atomic_dir(output_dir(job["project_id"]), f"job{job['id']}") as (tmp, final):
        (tmp / f"predictions.{params['format']}").write_bytes(to_bytes(frame, params["format"]))
    source.unlink(missing_ok=True)
    result = {"path": str(final / f"predictions.{params['format']}"), "version_id": version["id"],
              "number": version["number"], "n": len(texts), "seconds": seconds,
              "texts_per_s": len(texts) / seconds if seconds > 0 else None}
    with store.transaction(db) as conn:
        store.finish_job(conn, job["id"], message=f"predicted {len(texts):,} texts with version {version['number']} "
                                                  f"in {seconds:.1f} s", result=result)


def finished(db, job_id: int | None) -> dict | None:
    """The job (with its result) when it is a finished prediction whose file still exists."""
    job = store.job(db, job_id) if job_id else None
    if job and job["kind"] == store.JobKind.PREDICT and job["status"] == store.JobStatus.DONE and job["result"] \
            and Path(job["result"]["path"]).exists():
        return job
    return None
