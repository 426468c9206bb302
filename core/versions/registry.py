"""The version registry: pin the version served and exported, and look inside versions.

Pinning records who pinned and when (`store.version_pins`); `store.current_version` serves the
pinned version while the pin holds, so annotators get its queue and exports take it. Unpinning
goes back to following the newest version.

The figures here are plain numpy over each version's stored `probs.npy` (one row per row of its
encoder's `ids.npy`) and the labels in the store, so the UI process can call them: no
scikit-learn, no torch. A version's eval figures use the eval labels it saw (those in effect at
its label watermark), so they match the figures stored with it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import store
from core.learning import embeddings
from core.team import auth, quality


class RegistryError(ValueError):
    """A request the registry refuses, with a message for the user."""


# ---------------------------------------------------------------- pins


def pin(db, actor, project_id: int, number: int) -> dict:
    """Serve and export version `number` (of this project) until unpinned; recorded with who and when.
    Pinning changes what the whole team is served: admins only."""
    actor = auth.require(db, actor, auth.SETTINGS, project_id)
    version_id = store.version_id_by_number(db, project_id, number)
    if version_id is None:
        raise RegistryError(f"This project has no version {number}.")
    user = actor.name.strip()
    if not user:
        raise RegistryError("Pinning needs the name of the person who pins.")
    with store.transaction(db) as conn:
        store.set_pin(conn, project_id, version_id, user)
        auth.audit(conn, actor, "pin version", project_id, number=number)
    return store.pin(db, project_id)


def unpin(db, actor, project_id: int) -> None:
    """Follow the newest version again (recorded with who); nothing happens when no pin holds."""
    actor = auth.require(db, actor, auth.SETTINGS, project_id)
    if store.pin(db, project_id) is None:
        return
    user = actor.name.strip()
    if not user:
        raise RegistryError("Unpinning needs the name of the person who unpins.")
    with store.transaction(db) as conn:
        auth.audit(conn, actor, "unpin version", project_id)
        store.set_pin(conn, project_id, None, user)


# ---------------------------------------------------------------- predictions of a version


@functools.lru_cache(maxsize=16)
def _probs(path: str) -> np.ndarray:
    return np.load(Path(path) / "probs.npy", mmap_mode="r")


def _rows_of(ids: np.ndarray, example_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of `ids` holding `example_ids`, and a mask of which example ids were found."""
    if len(ids) == 0:
        return np.zeros(0, np.int64), np.zeros(len(example_ids), bool)
    rows = np.minimum(np.searchsorted(ids, example_ids), len(ids) - 1)
    found = ids[rows] == example_ids
    return rows[found], found


def predictions(db, version: dict, example_ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(example ids the version scored, predicted class ids, confidence) for `example_ids`."""
    example_ids = np.asarray(example_ids, dtype=np.int64)
    ids = embeddings.read(store.encoder(db, version["encoder_id"])["path"])[0]
    rows, found = _rows_of(ids, example_ids)
    if len(rows) == 0:
        return example_ids[found], np.zeros(0, np.int64), np.zeros(0, np.float32)
    probs = np.asarray(_probs(version["path"])[rows], dtype=np.float32)
    return example_ids[found], probs.argmax(1), probs.max(1)


# ---------------------------------------------------------------- eval figures


def per_class(true: np.ndarray, predicted: np.ndarray, names: list[str]) -> list[dict]:
    """Precision, recall, F1 and support of each class (0 where undefined, as scikit-learn's zero_division=0)."""
    k = len(names)
    confusion = confusion_matrix(true, predicted, k)
    tp = np.diag(confusion).astype(float)
    support, guessed = confusion.sum(1), confusion.sum(0)
    precision = np.divide(tp, guessed, out=np.zeros(k), where=guessed > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
    return [{"class": names[i], "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
             "support": int(support[i])} for i in range(k)]


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    return np.bincount(np.asarray(true) * k + np.asarray(predicted), minlength=k * k).reshape(k, k)


FEW_EVAL_TEXTS = 30  # below this many eval labels the Model page says its figures are rough


@dataclass
class EvalBreakdown:
    """A version on eval labels: which texts, their labels and its predictions."""

    example_ids: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    names: list[str]

    @property
    def n(self) -> int:
        return len(self.true)

    def per_class(self) -> list[dict]:
        return per_class(self.true, self.predicted, self.names)

    def classes_without_eval_texts(self) -> list[str]:
        present = set(np.asarray(self.true).tolist())
        return [name for i, name in enumerate(self.names) if i not in present]

    def caution(self) -> str | None:
        """A warning in words when the eval figures rest on too little to trust: under
        FEW_EVAL_TEXTS labeled eval texts, or classes with none yet."""
        missing = self.classes_without_eval_texts()
        if not self.n or (self.n >= FEW_EVAL_TEXTS and not missing):
            return None
        covered = len(self.names) - len(missing)
        return (f"These figures rest on {self.n} labeled eval text{'s' if self.n != 1 else ''}, covering {covered} of "
                f"{len(self.names)} classes, so they are rough: the true accuracy may be anywhere in the interval, and the figures will move a lot as more "
                f"eval texts are labeled."
                + (f" No eval texts yet for: {', '.join(missing)}." if missing else ""))

    def confusion(self) -> list[dict]:
        """One row per (true, predicted) pair, with its count and its share of the true class."""
        matrix = confusion_matrix(self.true, self.predicted, len(self.names))
        totals = matrix.sum(1)
        return [{"true": t, "predicted": p, "count": int(matrix[i, j]),
                 "share": float(matrix[i, j] / totals[i]) if totals[i] else 0.0}
                for i, t in enumerate(self.names) for j, p in enumerate(self.names)]


ENLARGE_EVAL = ("To enlarge it, add more texts on the Projects page (Add texts) and keep a share of them for "
                "the eval sample: a random draw of the new texts.")


@dataclass(frozen=True)
class EvalSample:
    """The project's eval sample: its size and how many of its texts have a label in effect."""

    labeled: int
    size: int

    @property
    def used_up(self) -> bool:
        return self.size > 0 and self.labeled >= self.size

    def note(self, accuracy_low: float | None = None, accuracy_high: float | None = None) -> str | None:
        """In words, when the sample limits the figures: every text of it labeled (the intervals cannot
        narrow any more), or too small ever to reach FEW_EVAL_TEXTS; with how to enlarge it. None otherwise."""
        if self.used_up:
            width = (f" (accuracy {accuracy_low:.0%} to {accuracy_high:.0%})"
                     if accuracy_low is not None and accuracy_high is not None else "")
            return (f"All {self.size} eval texts are labeled: the eval figures cannot get more precise than "
                    f"their intervals now{width}, and no eval texts come up on the Annotate page any more. "
                    f"The eval sample was drawn when the texts were imported. {ENLARGE_EVAL}")
        if 0 < self.size < FEW_EVAL_TEXTS:
            return (f"The eval sample has only {self.size} texts: even with every one labeled the eval figures "
                    f"stay rough. {ENLARGE_EVAL}")
        return None


def eval_sample(db, project_id: int) -> EvalSample:
    return EvalSample(len(store.current_labels(db, project_id, store.Split.EVAL)),
                      store.example_count(db, project_id, store.Split.EVAL))


def eval_breakdown(db, version: dict, watermark: int | None = None) -> EvalBreakdown:
    """The version's predictions on the eval labels in effect at `watermark` (default: its own label
    watermark, i.e. the eval texts its stored figures were measured on)."""
    names = store.class_names(db, version["project_id"])
    position = {name: i for i, name in enumerate(names)}
    labels = [r for r in store.labels_at(db, version["project_id"],
                                         version["label_watermark"] if watermark is None else watermark, store.Split.EVAL)
              if r["label"] in position]
    wanted = np.array([r["example_id"] for r in labels], dtype=np.int64)
    true_by_id = {r["example_id"]: position[r["label"]] for r in labels}
    found, predicted, confidence = predictions(db, version, wanted)
    true = np.array([true_by_id[i] for i in found.tolist()], dtype=np.int64)
    return EvalBreakdown(found, true, predicted.astype(np.int64), confidence, names)


def wrong_on_eval(db, actor: auth.Actor | None, version: dict, limit: int = 200) -> list[dict]:
    """Eval texts (labeled now) the version gets wrong, least confident mistakes last.

    For an annotator, only the texts they labeled themselves, measured against their own label:
    they see no other person's labels (nor an overlap text's first label before they give theirs)."""
    b = eval_breakdown(db, version, store.max_annotation_id(db, version["project_id"]))
    if quality.own_labels_only(db, actor):
        position = {name: i for i, name in enumerate(b.names)}
        own = {r["example_id"]: position[r["label"]] for r in store.annotator_labels(db, version["project_id"])
               if r["annotator"] == actor.name and r["split"] == store.Split.EVAL and r["label"] in position}
        keep = np.array([int(i) in own for i in b.example_ids], dtype=bool)
        true = np.array([own.get(int(i), -1) for i in b.example_ids], dtype=np.int64)
        b = EvalBreakdown(b.example_ids[keep], true[keep], b.predicted[keep], b.confidence[keep], b.names)
    wrong = np.flatnonzero(b.true != b.predicted)
    wrong = wrong[np.argsort(-b.confidence[wrong], kind="stable")][:limit]
    texts = store.texts_by_id(db, b.example_ids[wrong].tolist())
    return [{"example_id": int(b.example_ids[i]), "text": texts[int(b.example_ids[i])], "label": b.names[b.true[i]],
             "predicted": b.names[b.predicted[i]], "confidence": float(b.confidence[i])} for i in wrong]


# ---------------------------------------------------------------- comparing versions


def disagreements(db, old: dict, new: dict, limit: int = 200) -> tuple[int, int, list[dict]]:
    """Unlabeled pool texts both versions scored where their predicted classes differ.

    Returns (texts compared, texts that differ, up to `limit` rows: example id, text, each version's
    prediction and confidence), surest disagreements of the newer version first."""
    project_id = new["project_id"]
    names = store.class_names(db, project_id)
    labeled = {r["example_id"] for r in store.current_labels(db, project_id)}
    pool = np.array([i for i in store.example_ids(db, project_id, store.Split.POOL) if i not in labeled], dtype=np.int64)
    ids_old, pred_old, conf_old = predictions(db, old, pool)
    ids_new, pred_new, conf_new = predictions(db, new, ids_old)
    keep = np.isin(ids_old, ids_new)
    ids_old, pred_old, conf_old = ids_old[keep], pred_old[keep], conf_old[keep]
    differ = np.flatnonzero(pred_old != pred_new)
    chosen = differ[np.argsort(-conf_new[differ], kind="stable")][:limit]
    texts = store.texts_by_id(db, ids_new[chosen].tolist())
    rows = [{"example_id": int(ids_new[i]), "text": texts[int(ids_new[i])],
             f"version {old['number']}": names[pred_old[i]], f"confidence {old['number']}": float(conf_old[i]),
             f"version {new['number']}": names[pred_new[i]], f"confidence {new['number']}": float(conf_new[i])}
            for i in chosen]
    return int(len(ids_new)), int(len(differ)), rows


def compare_per_class(db, a: dict, b: dict) -> list[dict]:
    """Per-class F1 of two versions on the same eval texts (those labeled now), one row per version and class."""
    watermark = store.max_annotation_id(db, a["project_id"])
    ea, eb = eval_breakdown(db, a, watermark), eval_breakdown(db, b, watermark)
    shared = np.intersect1d(ea.example_ids, eb.example_ids)
    rows = []
    for v, e in ((a, ea), (b, eb)):
        keep = np.isin(e.example_ids, shared)
        for r in per_class(e.true[keep], e.predicted[keep], e.names):
            rows.append({"version": f"version {v['number']}", **r, "eval texts": int(keep.sum())})
    return rows
