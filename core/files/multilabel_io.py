"""Multi-label projects' files (issue 21): import a labels column as sets, export list columns,
one-hot CSV and a Hugging Face `datasets` directory with `Sequence(ClassLabel)`.

Import: the labels cell is read by `core.learning.labelsets.parse_cell` (a JSON list, else names
joined by `|`, else by `;`; an empty cell is unlabeled, `[]` is "none of these"). Every other
check (texts, blanks, duplicates, class names, fields) is `core.files.imports.plan_import`'s.

Export (`core.files.exports.export_labels` and `hf_datasets.build` call in here for a multi-label
project), one row per labeled text:
- JSONL and Parquet: `labels` is a list of class names (a Parquet list<string> column),
  `none_of_these` a bool, `annotators` each annotator's set.
- CSV: `labels` as a JSON list (reads back exactly, whatever the names hold) and one 0/1
  column per class (one-hot; a class whose name is a fixed column is written `class:<name>`).
"""
from __future__ import annotations

import json

import pandas as pd

from core import store
from core.files import imports
from core.labeling import multilabel
from core.learning import labelsets
from core.team import auth

_ROW = "__sieve_row__"  # carries each file row's position through `plan_import`
FIXED_COLUMNS = ("text", "labels", "none_of_these", "label_source", "split", "annotator", "labeled_at",
                 "example_id", "annotators")


def plan_import(frame: pd.DataFrame, text_column: str, labels_column: str | None = None,
                classes: list[str] | None = None, known_hashes: set[str] | None = None) -> imports.ImportPlan:
    """A multi-label import plan: `ImportPlan.labels` hold stored sets (JSON lists), None unlabeled.
    Classes are the ones given, else every name the labels column holds (sorted)."""
    if labels_column and labels_column not in frame.columns:
        raise imports.ImportFailed(f"There is no labels column {labels_column!r}. The columns are: "
                                   + ", ".join(repr(c) for c in frame.columns) + ".")
    sets = [labelsets.parse_cell(v) for v in frame[labels_column].tolist()] if labels_column else [None] * len(frame)
    given = [c.strip() for c in classes or []]
    found = sorted({name for s in sets if s for name in s})
    imports._check_class_names(given or found, f"The labels column {labels_column!r}" if not given else "The class list")
    names = list(dict.fromkeys(given or found))
    unknown = sorted({name for s in sets if s for name in s} - set(names))
    if unknown:
        raise imports.ImportFailed("The labels column holds values that are not classes of the project: "
                                   + ", ".join(repr(u[:imports.MAX_CLASS_CHARS]) for u in unknown[:10])
                                   + ". Add them to the classes or fix the file.")
    if len(names) < 2:
        raise imports.ImportFailed("A multi-label project needs at least two classes: name them, or pick a labels "
                                   "column that holds at least two.")
    rest = frame.drop(columns=[labels_column]) if labels_column else frame
    rest = rest.assign(**{_ROW: list(range(len(frame)))})
    plan = imports.plan_import(rest, text_column, None, names, known_hashes)
    rows = [meta.pop(_ROW) for meta in plan.metas]
    plan.labels = [None if sets[r] is None else labelsets.encode(sets[r], names) for r in rows]
    return plan


def create_project(db, actor, name: str, plan: imports.ImportPlan, **kwargs) -> int:
    """`imports.create_project_from_plan` for a multi-label plan (the project's kind is 'multi' for good)."""
    return imports.create_project_from_plan(db, actor, name, plan, kind=multilabel.MULTI, **kwargs)


def add_to_project(db, actor, project_id: int, frame: pd.DataFrame, text_column: str,
                   labels_column: str | None = None, eval_fraction: float = 0.0, seed: int = 0) -> imports.ImportPlan:
    """More texts (and sets) for a multi-label project, dropping the texts it has."""
    actor = auth.require(db, actor, auth.MANAGE_PROJECTS, project_id)
    plan = plan_import(frame, text_column, labels_column, store.class_names(db, project_id),
                       store.existing_hashes(db, project_id))
    with store.transaction(db) as conn:
        imports._write_rows(conn, project_id, plan, eval_fraction, seed)
        auth.audit(conn, actor, "add texts", project_id)
    return plan


def labels_frame(db, project_id: int) -> pd.DataFrame:
    """One row per labeled text: its final set (`multilabel.final_sets`) and each annotator's."""
    finals = multilabel.final_sets(db, project_id)
    ids = [f.example_id for f in finals]
    texts = store.texts_by_id(db, ids)
    when: dict[int, float] = {}
    for row in store.annotator_labels(db, project_id):
        when[row["example_id"]] = max(when.get(row["example_id"], 0.0), row["created_at"])
    return pd.DataFrame({
        "text": [texts[i] for i in ids],
        "labels": [list(f.labels) for f in finals],
        "none_of_these": [not f.labels for f in finals],
        "label_source": [f.source for f in finals],
        "split": [f.split for f in finals],
        "annotator": [", ".join(f.votes) for f in finals],
        "labeled_at": pd.to_datetime([when.get(i) for i in ids], unit="s", utc=True),
        "example_id": ids,
        "annotators": [json.dumps([{"annotator": a, "labels": s} for a, s in f.votes.items()], ensure_ascii=False)
                       for f in finals],
    })


def one_hot_frame(frame: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """The CSV form: `labels` as a JSON list, then one 0/1 column per class."""
    matrix = labelsets.one_hot(frame["labels"].tolist(), classes)
    out = frame.assign(labels=[json.dumps(s, ensure_ascii=False) for s in frame["labels"]])
    for j, name in enumerate(classes):
        out[f"class:{name}" if name in FIXED_COLUMNS else name] = matrix[:, j]
    return out


def build_dataset(db, project_id: int):
    """A `DatasetDict` (train: labeled pool texts, eval: the labeled eval sample) whose `labels` is a
    `Sequence(ClassLabel)` over the project's classes. Needs `datasets`: worker or CLI only."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    names = store.class_names(db, project_id)
    frame = labels_frame(db, project_id)
    features = Features({"text": Value("string"), "labels": Sequence(ClassLabel(names=names)),
                         "example_id": Value("int64"), "annotator": Value("string"), "labeled_at": Value("string")})
    splits = {}
    for split, name in ((store.Split.POOL, "train"), (store.Split.EVAL, "eval")):
        part = frame[frame["split"] == split]
        if name == "train" or len(part):
            splits[name] = Dataset.from_dict({
                "text": part["text"].tolist(), "labels": [[names.index(x) for x in s] for s in part["labels"]],
                "example_id": [int(x) for x in part["example_id"]], "annotator": part["annotator"].tolist(),
                "labeled_at": part["labeled_at"].astype(str).tolist()}, features=features)
    return DatasetDict(splits)


def label_classes(frame: pd.DataFrame, labels_column: str | None) -> list[str]:
    """The class names a labels column holds (sorted), as `plan_import` finds them."""
    if not labels_column:
        return []
    return sorted({name for v in frame[labels_column].tolist() for name in (labelsets.parse_cell(v) or [])})


NOT_SEPARATORS = {",": "a comma", "/": "a slash", "\t": "a tab"}


def separator_hint(frame: pd.DataFrame, labels_column: str | None) -> str | None:
    """A warning when class names read from the labels column hold a comma, slash or tab: those do
    not separate labels (only |, ; and JSON lists do), so 'a, b' became one class (a new user's
    trial: nothing said so). None when no name holds one."""
    names = label_classes(frame, labels_column)
    for char, words in NOT_SEPARATORS.items():
        odd = [n for n in names if char in n]
        if odd:
            shown = ", ".join(repr(n) for n in odd[:3]) + (f" and {len(odd) - 3:,} more" if len(odd) > 3 else "")
            return (f"{len(odd):,} class {'name holds' if len(odd) == 1 else 'names hold'} {words} ({shown}). "
                    "Only |, ; or a JSON list separate labels, so each such cell is read as one class. "
                    "If the labels are separated by something else, change the file before creating the project.")
    return None


def labeled_count(frame: pd.DataFrame, text_column: str, labels_column: str | None) -> tuple[int, int]:
    """(texts that would arrive with a set, texts that would arrive); ImportFailed as `plan_import`."""
    plan = plan_import(frame, text_column, labels_column)
    return sum(label is not None for label in plan.labels), len(plan.texts)
