"""Serve a retrain only on evidence: the head on the new encoder against the head on the previous one.

A full retrain fine-tunes the encoder on the labels, so cross-validating a head on the new
encoder's embeddings of those same labels flatters it: the held-out fold's texts were pulled
towards their classes while the encoder trained. The comparison therefore scores both heads
only on labeled texts the new encoder never saw:

  - a held-out fold of the labels, kept out of the encoder's training (`held_out`: one label in
    five of every class with two or more, at least one each, chosen by a fixed hash), and every
    label given while the retrain ran; both heads train on all the other labels, the same
    folds for both;
  - the eval sample instead, when it has at least `MIN_EVAL` labeled texts (never trained on).

The better macro-F1 is served; on a tie, the lower class-balanced log loss; on a tie of both,
the new encoder. Both heads are then refitted on every current label and published, so the
served model never has fewer labels than the one it replaces, and the other is kept as a
version with the reason it was not served (`params["serving"]`, shown on the Model page).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.learning import evaluation
from core.learning.classifiers import head

HELD_OUT_EVERY = 5  # one label in five of each class stays out of the encoder's training
MIN_EVAL = 30  # labeled eval texts from which the eval sample decides instead


def held_out(example_ids: np.ndarray, label_ids: np.ndarray) -> np.ndarray:
    """A mask of the labels kept out of the encoder's training: per class with two or more labels,
    one in `HELD_OUT_EVERY` (at least one), the lowest hashes of (example id) first, so the
    choice is the same on every run and does not depend on label order."""
    example_ids, label_ids = np.asarray(example_ids, np.int64), np.asarray(label_ids)
    keys = (example_ids * 2654435761) % 4294967296
    mask = np.zeros(len(example_ids), bool)
    for c in np.unique(label_ids):
        members = np.flatnonzero(label_ids == c)
        if len(members) < 2:
            continue
        take = max(1, int(round(len(members) / HELD_OUT_EVERY)))
        mask[members[np.argsort(keys[members], kind="stable")[:take]]] = True
    return mask


@dataclass
class Candidate:
    """One encoder's side: embeddings of the labeled texts (rows aligned with the other side's)."""

    train: np.ndarray  # labels both heads train on for the comparison
    test: np.ndarray  # texts the new encoder never saw
    classes: np.ndarray | None = None  # embedded class names, when the head learns from them
    unlabeled: np.ndarray | None = None  # pool sample for self-training


@dataclass
class Decision:
    new_wins: bool
    figures: dict  # per side: macro_f1, log_loss, n; and what decided
    reason_new: str  # why the head on the new encoder was or was not served
    reason_old: str

    def to_params(self, side: str) -> dict:
        served = self.new_wins == (side == "new")
        return {"served": served, "reason": self.reason_new if side == "new" else self.reason_old,
                "comparison": self.figures}


def _balanced_log_loss(y: np.ndarray, probs: np.ndarray) -> float:
    """Mean over classes of the mean −log p(true class): a rare class counts as much as a common one."""
    p = np.clip(probs[np.arange(len(y)), y], 1e-6, 1.0)
    return float(np.mean([-np.log(p[y == c]).mean() for c in np.unique(y)]))


def score(side: Candidate, y_train: np.ndarray, y_test: np.ndarray, n_classes: int, args: head.HeadArguments) -> dict:
    model = head.fit(side.train, y_train, args, unlabeled=side.unlabeled, class_examples=side.classes)
    probs = head.predict_proba(model, side.test, n_classes)
    figures = evaluation.scores(y_test, probs.argmax(1))
    return {"macro_f1": figures["macro_f1"], "accuracy": figures["accuracy"],
            "log_loss": _balanced_log_loss(y_test, probs), "n": int(len(y_test))}


def decide(new: dict, old: dict, on: str) -> Decision:
    """`new` / `old`: `score` figures on the same texts; `on` says which texts ("eval sample" or ...)."""
    if abs(new["macro_f1"] - old["macro_f1"]) > 1e-9:
        new_wins, by = new["macro_f1"] > old["macro_f1"], "macro-F1"
    elif abs(new["log_loss"] - old["log_loss"]) > 1e-9:
        new_wins, by = new["log_loss"] < old["log_loss"], "log loss (macro-F1 tied)"
    else:
        new_wins, by = True, "a tie on macro-F1 and log loss (the retrain is served)"
    where = f"{on} ({new['n']} texts)"
    figures = (f"macro-F1 {new['macro_f1']:.3f} on the retrained encoder vs {old['macro_f1']:.3f} on the previous "
               f"one, on {where}")
    if by.startswith("a tie"):
        reason_new = f"served: {by}: {figures}"
        reason_old = f"not served: {by}: {figures}"
    elif new_wins:
        reason_new = f"served: the retrained encoder did at least as well, by {by}: {figures}"
        reason_old = f"not served: the retrained encoder did better, by {by}: {figures}"
    else:
        reason_new = f"not served: the previous encoder did better, by {by}: {figures}"
        reason_old = f"served: the previous encoder did better than the retrained one, by {by}: {figures}"
    return Decision(new_wins, {"new": new, "old": old, "on": on, "by": by}, reason_new, reason_old)
