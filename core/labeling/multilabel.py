"""Annotating a multi-label project (issue 21): a set of labels per text, "none of these", final sets.

The flow is the single-label one (`core.labeling.annotate`: the same leases, queue, undo and
refit scheduling); only what is recorded differs: the set of classes, stored as a JSON list
(`core.learning.labelsets`), `[]` for "none of these". Skip and undo are `annotate.skip` and
`annotate.undo_last` unchanged; a relabel is a new set appended after an undo.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core import store
from core.labeling import annotate, scheduling
from core.learning import embeddings, labelsets
from core.team import auth

MULTI = "multi"
UNANIMOUS, MAJORITY, SINGLE, DECIDED = "unanimous", "majority", "single", "adjudication"


def is_multi(db, project_id: int) -> bool:
    return store.project_kind(db, project_id) == MULTI


def _require_multi(db, project_id: int) -> None:
    if not is_multi(db, project_id):
        raise annotate.AnnotationError("This project is single-label: give one class per text.")


@annotate._locks_as_busy
def submit_labels(db, actor: auth.Actor, project_id: int, shown: annotate.NextText, labels: list[str],
                  seconds: float | None = None) -> int:
    """Append the set of labels (possibly empty: "none of these") for the text that was shown, with
    the same checks, lease release and refit scheduling as `annotate.submit_label`."""
    annotator = auth.require(db, actor, auth.LABEL, project_id).name
    _require_multi(db, project_id)
    try:
        stored = labelsets.encode(labels, store.class_names(db, project_id))
    except labelsets.BadLabelSet as err:
        raise annotate.AnnotationError(str(err)) from None
    annotate._check_example(db, project_id, shown.example_id)
    overlap = store.settings(db, project_id).overlap
    with annotate._writing(db) as conn:
        annotate._ensure_free(conn, project_id, shown.example_id, annotator, next_one=True, overlap=overlap)
        annotation_id = store.add_annotation(conn, project_id, shown.example_id, annotator, store.Action.LABEL,
                                             label=stored, seconds=seconds, model_version_id=shown.version_id,
                                             strategy=shown.strategy, score=shown.score)
        store.release_leases(conn, project_id, annotator)
        scheduling.schedule_training(db, conn, project_id)
    return annotation_id


def none_of_these(db, actor: auth.Actor, project_id: int, shown: annotate.NextText,
                  seconds: float | None = None) -> int:
    """The explicit answer "no class applies" (an empty set), unlike a skip, which answers nothing."""
    return submit_labels(db, actor, project_id, shown, [], seconds)


@dataclass
class FinalSet:
    example_id: int
    split: str
    labels: list[str]  # [] is "none of these"
    source: str  # adjudication, unanimous, majority, single
    votes: dict[str, list[str]] = field(default_factory=dict)  # annotator -> set
    decided: dict[str, int] = field(default_factory=dict)  # label -> 0/1 a reviewer decided (the rest: majority)
    decided_by: str | None = None


def encode_decision(decided: dict[str, int | bool], classes: list[str]) -> str:
    """The stored form of a decision per label (the adjudications table's `label`): a JSON object
    {label: 0 or 1} in class order. Unknown names refuse."""
    unknown = sorted(set(decided) - set(classes))
    if unknown:
        raise labelsets.BadLabelSet("Not classes of this project: " + ", ".join(repr(u) for u in unknown[:10]) + ".")
    return json.dumps({c: int(bool(decided[c])) for c in classes if c in decided}, ensure_ascii=False)


def decode_decision(stored: str | None, classes: list[str]) -> dict[str, int] | None:
    """A stored decision as {label: 0/1}: a JSON object decides those labels; a JSON list (a whole
    set, the form before decisions per label) decides every label. Anything else (a bare class name:
    a single-label style decision, which `core.team.quality.adjudicate` refuses on a multi-label
    project) is None: no decision, so the annotators' majority stands and final sets never break."""
    if stored is None:
        return None
    try:
        value = json.loads(stored)
    except (json.JSONDecodeError, TypeError):
        return None
    if isinstance(value, dict):
        return {c: int(bool(value[c])) for c in classes if c in value}
    if isinstance(value, list):
        chosen = {str(v) for v in value}
        return {c: int(c in chosen) for c in classes}
    return None


def decision_changes(decision_label: str, annotator_label: str, classes: list[str]) -> bool:
    """Whether a stored decision changed any label of this annotator's stored set."""
    decided = decode_decision(decision_label, classes) or {}
    mine = set(labelsets.decode(annotator_label) or [])
    return any(bool(v) != (name in mine) for name, v in decided.items())


def majority(votes: dict[str, list[str]], label: str) -> int | None:
    """1 when more than half the annotators give `label`, 0 when fewer than half do, None on a tie."""
    given = sum(label in v for v in votes.values())
    return 1 if 2 * given > len(votes) else 0 if 2 * given < len(votes) else None


def resolve(votes: dict[str, list[str]], classes: list[str],
            decided: dict[str, int] | None = None) -> tuple[list[str], str]:
    """Per label: a reviewer's decision on it when there is one, else the majority of the annotators
    (more than half include it); a tie leaves it out until someone decides it."""
    if decided:
        return [c for c in classes if (decided[c] if c in decided else majority(votes, c) == 1)], DECIDED
    if len(votes) == 1:
        return next(iter(votes.values())), SINGLE
    sets = [set(v) for v in votes.values()]
    chosen = [c for c in classes if 2 * sum(c in s for s in sets) > len(sets)]
    return chosen, UNANIMOUS if all(s == sets[0] for s in sets) else MAJORITY


def final_sets(db, project_id: int, split: str | None = None) -> list[FinalSet]:
    """Every labeled text with its final set of labels, by example id: each label a reviewer decided
    as decided (the newest decision of the text holds every label decided so far), the others by
    the annotators' majority."""
    classes = store.class_names(db, project_id)
    decided = store.decisions(db, project_id)
    votes: dict[int, dict[str, list[str]]] = {}
    splits: dict[int, str] = {}
    for row in store.annotator_labels(db, project_id):
        votes.setdefault(row["example_id"], {})[row["annotator"]] = labelsets.decode(row["label"])
        splits[row["example_id"]] = row["split"]
    out = []
    for example_id in sorted(splits):
        if split is not None and splits[example_id] != split:
            continue
        decision = decided.get(example_id)
        per_label = decode_decision(decision["label"], classes) if decision else None
        labels, source = resolve(votes[example_id], classes, per_label)
        out.append(FinalSet(example_id, splits[example_id], labels, source, votes[example_id], per_label or {},
                            decision["reviewer"] if per_label else None))
    return out


def thresholds(version: dict) -> np.ndarray:
    """The per-label thresholds stored with a multi-label version."""
    return np.asarray(json.loads((Path(version["path"]) / "thresholds.json").read_text()), dtype=float)


def suggested_labels(db, project_id: int, version: dict | None, example_id: int) -> list[tuple[str, float]] | None:
    """Every label whose probability reaches its threshold, with the probability, most likely first;
    None without a version or when the text is not scored."""
    if version is None:
        return None
    ids = embeddings.read(store.encoder(db, version["encoder_id"])["path"])[0]
    row = int(np.searchsorted(ids, example_id))
    if row >= len(ids) or ids[row] != example_id:
        return None
    probs = np.asarray(annotate._probs(version["path"])[row], dtype=float)
    names = store.class_names(db, project_id)
    above = [(names[j], float(probs[j])) for j in np.flatnonzero(probs >= thresholds(version))]
    return sorted(above, key=lambda item: -item[1])
