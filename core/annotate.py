"""The annotator's side of the loop: which text comes next, and recording labels.

The UI calls only these functions. A label is committed to SQLite (synchronous=FULL)
before `submit_label` returns, and the same transaction schedules the refits it triggers.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import embeddings, scheduling, store

LEASE_S = 600.0  # an example shown to one annotator is hidden from the others this long


class AnnotationError(ValueError):
    """A request the annotation flow refuses, with a message for the user."""


@dataclass
class NextText:
    example_id: int
    text: str
    meta: dict
    split: str
    strategy: str  # why this text: the strategy that chose it
    score: float | None
    version_id: int | None
    suggestion: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)


@functools.lru_cache(maxsize=32)
def _queue(version_path: str) -> tuple[np.ndarray, np.ndarray]:
    path = Path(version_path)
    return np.load(path / "queue.npy"), np.load(path / "queue_scores.npy")


@functools.lru_cache(maxsize=32)
def _probs(version_path: str) -> np.ndarray:
    return np.load(Path(version_path) / "probs.npy", mmap_mode="r")


def _from_queue(source: dict | None, excluded: set[int]) -> tuple[int, float] | None:
    """First queued text not excluded; `source` is a version or, before any model, an encoder."""
    if source is None:
        return None
    queue, scores = _queue(source["path"])
    for example_id, score in zip(queue.tolist(), scores.tolist()):
        if example_id not in excluded:
            return example_id, score
    return None


def _fallback(db, project_id: int, split: str, excluded: set[int]) -> int | None:
    """Texts not covered by a queue (before embeddings exist, or added since), in a fixed shuffled order."""
    for (example_id,) in db.conn.execute(
        "SELECT id FROM examples WHERE project_id = ? AND split = ? ORDER BY (id * 2654435761) % 4294967296",
        (project_id, split),
    ):
        if example_id not in excluded:
            return example_id
    return None


def next_text(db, project_id: int, annotator: str, split: str = store.POOL) -> NextText | None:
    """The next text for this annotator, leased to them; None when nothing is left.

    Pool texts come from the latest version's queue (the strategy's order); eval texts
    come in a random order the model never influences.
    """
    excluded = store.excluded_for(db, project_id, annotator)
    version = store.current_version(db, project_id)
    queue_source = version or store.latest_encoder(db, project_id)
    picked = _from_queue(queue_source, excluded) if split == store.POOL else None
    if picked is not None:
        example_id, score = picked
        strategy = version["params"].get("strategy", "model queue") if version else "cold start: kmeans"
    else:
        example_id = _fallback(db, project_id, split, excluded)
        score = None
        strategy = "eval sample (random)" if split == store.EVAL else "not embedded yet (shuffled order)"
        if example_id is None:
            return None
    return _lease_and_show(db, project_id, annotator, example_id, version, strategy, score)


def _lease_and_show(db, project_id: int, annotator: str, example_id: int, version: dict | None, why: str,
                    score: float | None) -> NextText:
    with store.transaction(db) as conn:
        store.release_leases(conn, project_id, annotator)
        store.lease(conn, project_id, example_id, annotator, LEASE_S)
    row = store.example(db, example_id)
    shown = NextText(example_id, row["text"], row["meta"], row["split"], why, score,
                     version["id"] if version else None)
    if version is not None:
        _add_suggestion(db, project_id, version, shown)
    return shown


def _add_suggestion(db, project_id: int, version: dict, shown: NextText) -> None:
    ids = embeddings.read(store.encoder(db, version["encoder_id"])["path"])[0]
    row = int(np.searchsorted(ids, shown.example_id))
    if row >= len(ids) or ids[row] != shown.example_id:
        return
    names = store.class_names(db, project_id)
    probs = np.asarray(_probs(version["path"])[row], dtype=float)
    best = int(probs.argmax())
    shown.suggestion, shown.confidence = names[best], float(probs[best])
    shown.probabilities = {name: float(p) for name, p in zip(names, probs)}


def refresh_suggestion(db, project_id: int, shown: NextText) -> NextText:
    """The same text with the suggestion of the version served now (a new one may have been
    published while the annotator was reading)."""
    version = store.current_version(db, project_id)
    if version is None or version["id"] == shown.version_id:
        return shown
    fresh = NextText(shown.example_id, shown.text, shown.meta, shown.split, shown.strategy, shown.score,
                     version["id"])
    _add_suggestion(db, project_id, version, fresh)
    return fresh


def submit_label(db, project_id: int, example_id: int, annotator: str, label: str, seconds: float | None = None,
                 version_id: int | None = None, strategy: str | None = None, score: float | None = None) -> int:
    """Append a label and schedule the refits it triggers, in one committed transaction."""
    if label not in store.class_names(db, project_id):
        raise AnnotationError(f"{label!r} is not a class of this project.")
    _check_example(db, project_id, example_id)
    with store.transaction(db) as conn:
        annotation_id = store.add_annotation(conn, project_id, example_id, annotator, store.LABEL, label=label,
                                             seconds=seconds, model_version_id=version_id, strategy=strategy,
                                             score=score)
        store.release_leases(conn, project_id, annotator)
        scheduling.schedule_training(db, conn, project_id)
    return annotation_id


def skip(db, project_id: int, example_id: int, annotator: str, seconds: float | None = None) -> int:
    _check_example(db, project_id, example_id)
    with store.transaction(db) as conn:
        annotation_id = store.add_annotation(conn, project_id, example_id, annotator, store.SKIP, seconds=seconds)
        store.release_leases(conn, project_id, annotator)
    return annotation_id


def undo_last(db, project_id: int, annotator: str) -> int | None:
    """Revert the annotator's latest label or skip (by appending an undo); returns its example id."""
    with store.transaction(db) as conn:
        last = store.last_undoable(db, project_id, annotator)
        if last is None:
            return None
        store.add_annotation(conn, project_id, last["example_id"], annotator, store.UNDO, reverts=last["id"])
    return last["example_id"]


def show_example(db, project_id: int, annotator: str, example_id: int, why: str) -> NextText:
    """A specific text (after undo, or found by keyword search), leased to this annotator."""
    _check_example(db, project_id, example_id)
    return _lease_and_show(db, project_id, annotator, example_id, store.current_version(db, project_id), why, None)


def _check_example(db, project_id: int, example_id: int) -> None:
    row = db.conn.execute("SELECT project_id FROM examples WHERE id = ?", (example_id,)).fetchone()
    if row is None or row[0] != project_id:
        raise AnnotationError("That text is not part of this project.")


def progress(db, project_id: int) -> dict:
    """Label counts for the progress bar: total, per class, since the current model, eval."""
    labels = store.current_labels(db, project_id)
    names = store.class_names(db, project_id)
    per_class = {name: 0 for name in names}
    for row in labels:
        if row["split"] == store.POOL:
            per_class[row["label"]] = per_class.get(row["label"], 0) + 1
    version = store.current_version(db, project_id)
    return {
        "labels": sum(per_class.values()),
        "per_class": per_class,
        "eval_labels": sum(r["split"] == store.EVAL for r in labels),
        "pool": store.example_count(db, project_id, store.POOL),
        "eval": store.example_count(db, project_id, store.EVAL),
        "since_model": store.labels_since(db, project_id, version["label_watermark"]) if version else len(labels),
        "version": version,
    }


# Why a text was shown, in plain words first; the strategy's technical name goes in the help text.
REASONS = {
    "cold start: kmeans": "A typical text: before there is a model, texts that cover the data come first.",
    "kmeans": "A typical text from a part of the data with few labels yet.",
    "margin": "The model is torn between two classes for this text.",
    "margin_diverse": "The model is torn between two classes for this text (and it differs from the others "
                      "in this batch).",
    "least_confidence": "The model is unsure about this text.",
    "entropy": "The model is unsure about this text.",
    "contrastive": "The model treats this text unlike its labeled neighbours.",
    "class_balanced": "The model thinks this text may belong to a class with few labels.",
    "random": "Picked at random.",
    "model queue": "Next in the model's queue.",
    "eval sample (random)": "Eval text: picked at random, so the model's accuracy on these is an honest estimate.",
    "not embedded yet (shuffled order)": "Texts are still being prepared for the model; shown in a shuffled order "
                                         "meanwhile.",
    "keyword search": "You picked this text by keyword.",
    "undo": "You undid this label: label it again.",
}
# Below this confidence a suggestion is noise (the queue holds the texts the model is least sure
# of) and would only nudge the annotator, so it is not shown.
SUGGESTION_MIN_CONFIDENCE = 0.75
EVAL_EVERY = 10  # one text in this many comes from the eval sample while it has unlabeled texts


def describe(shown: NextText) -> tuple[str, str]:
    """Why this text was chosen: (plain words, technical detail)."""
    words = REASONS.get(shown.strategy, "Chosen by the model's query strategy.")
    detail = f"strategy: {shown.strategy}" + (f", score {shown.score:.3f}" if shown.score is not None else "")
    return words, detail


def confident_suggestion(shown: NextText) -> tuple[str, float] | None:
    """The model's suggestion when it is sure enough to be worth showing, else None."""
    if shown.suggestion is None or shown.confidence is None or shown.confidence < SUGGESTION_MIN_CONFIDENCE:
        return None
    return shown.suggestion, shown.confidence


def choose_split(db, project_id: int, annotator: str) -> str:
    """Pool or eval for the next text: one in EVAL_EVERY of an annotator's labels goes to the
    eval sample (a random sample the model never picks from) until it is all labeled."""
    if not store.example_count(db, project_id, store.EVAL):
        return store.POOL
    counts = dict(db.conn.execute(
        """SELECT e.split, count(*) FROM annotations a JOIN examples e ON e.id = a.example_id
           WHERE a.project_id = ? AND a.annotator = ? AND a.action = 'label' GROUP BY e.split""",
        (project_id, annotator)).fetchall())
    due = counts.get(store.POOL, 0) >= (counts.get(store.EVAL, 0) + 1) * (EVAL_EVERY - 1)
    if due and store.unlabeled_count(db, project_id, store.EVAL):
        return store.EVAL
    return store.POOL
