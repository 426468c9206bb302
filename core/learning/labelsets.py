"""Label sets of multi-label projects (issue 21): how a set is stored, read from a file and compared.

An annotation of a multi-label project keeps its set of labels in the `label` column as a JSON list
of class names in the project's class order; `[]` is the explicit answer "none of these" (a skip
is a separate action, so "no label applies" and "not answered" never mix). Undo and relabel
append rows as for single-label projects, so the set in effect is read by the same rule.

A file's labels cell is read as a list in one of three spellings, tried in this order:
a JSON list (`["a", "b"]`), else names joined by `|`, else names joined by `;`. A cell is split by
one separator only: a cell holding `|` is split on `|` (a `;` inside stays part of a name). An
empty cell means "not labeled"; `[]` means "none of these".
"""
from __future__ import annotations

import json
from typing import Iterable, Sequence

import numpy as np

SEPARATORS = ("|", ";")
NONE_OF_THESE = "[]"  # the stored form of the empty set


class BadLabelSet(ValueError):
    """A labels cell or a submitted set that is not a list of class names."""


def encode(labels: Iterable[str], classes: Sequence[str]) -> str:
    """The stored form of a set: its class names in class order, as a JSON list. Unknown names refuse."""
    chosen = set(labels)
    unknown = sorted(chosen - set(classes))
    if unknown:
        raise BadLabelSet("Not classes of this project: " + ", ".join(repr(u) for u in unknown[:10]) + ".")
    return json.dumps([c for c in classes if c in chosen], ensure_ascii=False)


def decode(stored: str | None) -> list[str] | None:
    """A stored set back as a list (None for None)."""
    if stored is None:
        return None
    value = json.loads(stored)
    if not isinstance(value, list):
        raise BadLabelSet(f"A multi-label annotation holds {stored!r}, not a list.")
    return [str(v) for v in value]


def parse_cell(value) -> list[str] | None:
    """A file's labels cell as a list of names (stripped, repeats dropped, order kept); None when
    the cell is empty or missing. A list value (JSONL, Parquet) is taken as it is."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [str(v) for v in value]
    else:
        text = str(value).strip()
        if not text:
            return None
        items = None
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, list):
                items = [str(v) for v in parsed]
        if items is None:
            sep = next((s for s in SEPARATORS if s in text), None)
            items = text.split(sep) if sep else [text]
    out: list[str] = []
    for item in (i.strip() for i in items):
        if item and item not in out:
            out.append(item)
    return out


def one_hot(sets: Sequence[Sequence[str]], classes: Sequence[str]) -> np.ndarray:
    """Texts x classes 0/1 matrix (uint8)."""
    position = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(sets), len(classes)), dtype=np.uint8)
    for row, labels in enumerate(sets):
        for label in labels:
            out[row, position[label]] = 1
    return out


def from_one_hot(matrix: np.ndarray, classes: Sequence[str]) -> list[list[str]]:
    return [[classes[j] for j in np.flatnonzero(row)] for row in np.asarray(matrix)]
