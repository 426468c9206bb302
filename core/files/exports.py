"""Export a project's labels: CSV (formula-safe), JSONL or Parquet, final labels with every
annotator's label beside them."""
from __future__ import annotations

import io
import json

import pandas as pd

from core import store
from core.files import multilabel_io
from core.team import auth, quality

EXPORT_FORMATS = ("csv", "jsonl", "parquet")


def labels_frame(db, project_id: int) -> pd.DataFrame:
    """One row per labeled text: the final label (`quality.final_labels`; empty while annotators tie),
    how it was reached, and every annotator's label (`annotators`: a list of {annotator, label, labeled_at})."""
    finals = {f.example_id: f for f in quality.final_labels(db, project_id)}
    per: dict[int, list[dict]] = {}
    for row in quality.annotator_labels(db, project_id):
        per.setdefault(row["example_id"], []).append(row)
    ids = sorted(finals)
    texts = store.texts_by_id(db, ids)
    last = {i: max((r["created_at"] for r in per.get(i, [])), default=None) for i in ids}
    return pd.DataFrame({
        "text": [texts[i] for i in ids],
        "label": [finals[i].label for i in ids],
        "label_source": [finals[i].source for i in ids],
        "split": [finals[i].split for i in ids],
        "annotator": [", ".join(r["annotator"] for r in per.get(i, [])) for i in ids],
        "labeled_at": pd.to_datetime([last[i] for i in ids], unit="s", utc=True),
        "example_id": ids,
        "annotators": [json.dumps([{"annotator": r["annotator"], "label": r["label"]} for r in per.get(i, [])],
                                  ensure_ascii=False) for i in ids],
        "decided_by": [finals[i].decided_by for i in ids],
    })


# OWASP CSV injection: a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where every text cell a spreadsheet would run as a formula starts with a single quote.

    Texts and labels come from uploads and annotators; opened in Excel, `=HYPERLINK(...)` or
    `+cmd|...` would run. Only CSV needs this: JSONL and Parquet readers never evaluate cells.
    """
    def escape(value):
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

    texts = [c for c in frame.columns
             if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])]
    return frame.assign(**{c: frame[c].map(escape) for c in texts})


def export_labels(db, actor, project_id: int, fmt: str) -> bytes:
    auth.require(db, actor, auth.EXPORT, project_id)
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}.")
    multi = store.project_kind(db, project_id) == "multi"
    frame = multilabel_io.labels_frame(db, project_id) if multi else labels_frame(db, project_id)
    buffer = io.BytesIO()
    if fmt == "csv":
        if multi:  # a JSON-list `labels` column and one 0/1 column per class (issue 21)
            frame = multilabel_io.one_hot_frame(frame, store.class_names(db, project_id))
        # CRLF rows (RFC 4180): the csv writer then quotes a text holding a lone CR, which a "\n"
        # terminator leaves bare, splitting the row for every reader.
        formula_safe(frame).to_csv(buffer, index=False, lineterminator="\r\n")
    elif fmt == "jsonl":
        frame.assign(labeled_at=frame["labeled_at"].astype(str)).to_json(buffer, orient="records", lines=True,
                                                                          force_ascii=False)
    else:
        frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
