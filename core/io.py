"""Import texts into a project and export labels.

Reading is strict: a file that cannot be read as the user meant it fails with one
`ImportFailed` message that names the problem, and nothing is written. Writing a whole
import happens in one transaction, so a project is never half-created.
"""
from __future__ import annotations

import hashlib
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from core import store

FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
    ".parquet": "parquet", ".pq": "parquet", ".txt": "txt",
}
MAX_LINE_BYTES = 1_000_000  # a longer line is not a text to label; most likely a wrong file
MAX_TEXT_CHARS = 100_000
# Streamlit reserves C and R; Skip and Undo use arrow/backspace keys.
SHORTCUT_KEYS = "1234567890qwetyuiopasdfghjklzxvbnm"


class ImportFailed(ValueError):
    """The file cannot be imported; the message says why in words meant for the user."""


@dataclass
class ImportPlan:
    """Validated rows ready to write: texts, optional labels, and what was dropped."""

    texts: list[str]
    labels: list[str | None]
    metas: list[dict]
    classes: list[str]
    duplicates: int = 0
    blank: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.texts):,} texts"]
        labeled = sum(label is not None for label in self.labels)
        if labeled:
            parts.append(f"{labeled:,} already labeled")
        if self.duplicates:
            parts.append(f"{self.duplicates:,} duplicates dropped")
        if self.blank:
            parts.append(f"{self.blank:,} blank texts dropped")
        return ", ".join(parts)


def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def detect_format(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in FORMATS:
        raise ImportFailed(f"Cannot tell the format of {Path(filename).name!r}: use one of "
                           + ", ".join(sorted(set(FORMATS))) + ".")
    return FORMATS[suffix]


def _check_line_lengths(stream: BinaryIO, limit: int) -> None:
    """Stop early on a huge line instead of reading gigabytes into memory first."""
    line, run = 1, 0
    while chunk := stream.read(1 << 20):
        start = 0
        while (newline := chunk.find(b"\n", start)) != -1:
            if run + newline - start > limit:
                raise ImportFailed(f"Line {line:,} is longer than {limit:,} bytes; this does not look like a file "
                                   "of texts (one record per line).")
            line, run, start = line + 1, 0, newline + 1
        run += len(chunk) - start
        if run > limit:
            raise ImportFailed(f"Line {line:,} is longer than {limit:,} bytes; this does not look like a file "
                               "of texts (one record per line).")
    stream.seek(0)


def _decode(raw: bytes) -> str:
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ImportFailed(
            f"The file is not UTF-8 text: byte 0x{raw[err.start]:02x} on line {line:,} cannot be decoded. "
            "Save it as UTF-8 (in Excel: 'CSV UTF-8') and upload it again."
        ) from None


def read_table(source: str | Path | bytes | BinaryIO, filename: str | None = None,
               max_line_bytes: int = MAX_LINE_BYTES) -> pd.DataFrame:
    """Read a CSV, TSV, JSONL, JSON (list of records), Parquet or TXT (one text per line) file.

    Every column comes back as strings (missing cells as None).
    """
    if isinstance(source, (str, Path)):
        filename = filename or str(source)
        stream: BinaryIO = open(source, "rb")
    elif isinstance(source, bytes):
        stream = io.BytesIO(source)
    else:
        stream = source
    if not filename:
        raise ImportFailed("The file has no name, so its format is unknown.")
    fmt = detect_format(filename)
    try:
        frame = _read(stream, fmt, max_line_bytes)
    finally:
        if isinstance(source, (str, Path)):
            stream.close()
    if frame.empty or len(frame.columns) == 0:
        raise ImportFailed(f"{Path(filename).name!r} holds no rows.")
    frame.columns = [str(c).strip() for c in frame.columns]
    return pd.DataFrame({column: pd.Series([None if _missing(v) else str(v) for v in frame[column]], dtype=object)
                         for column in frame.columns})


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and dicts from JSON are values, not missing
        return False


def _read(stream: BinaryIO, fmt: str, max_line_bytes: int) -> pd.DataFrame:
    if fmt == "parquet":
        try:
            return pd.read_parquet(stream)
        except Exception as err:  # pyarrow raises many types for a broken file
            raise ImportFailed(f"This is not a readable Parquet file ({type(err).__name__}: {err}).") from None
    if stream.seekable():
        _check_line_lengths(stream, max_line_bytes)
    text = _decode(stream.read())
    if not text.strip():
        raise ImportFailed("The file is empty.")
    try:
        if fmt in ("csv", "tsv"):
            return pd.read_csv(io.StringIO(text), sep="," if fmt == "csv" else "\t", dtype=str,
                               keep_default_na=False, na_values=[""], engine="python",
                               skip_blank_lines=False)
        if fmt == "jsonl":
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
            return _records_frame(records)
        if fmt == "json":
            return _records_frame(json.loads(text))
        return pd.DataFrame({"text": [line for line in text.splitlines()]})
    except json.JSONDecodeError as err:
        raise ImportFailed(f"The file is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}.") from None
    except pd.errors.ParserError as err:
        raise ImportFailed(f"The file could not be parsed as {fmt.upper()}: {err}") from None


def _records_frame(records) -> pd.DataFrame:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ImportFailed("A JSON file must hold a list of records, like "
                           '[{"text": "...", "label": "..."}]; JSONL must hold one such record per line.')
    return pd.DataFrame.from_records(records)


def parse_classes(spec: str | list[str] | None) -> list[str]:
    """Classes from a comma- or newline-separated string; order kept, blanks and repeats dropped."""
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else spec.replace("\n", ",").split(",")
    seen: list[str] = []
    for item in (str(i).strip() for i in items):
        if item and item not in seen:
            seen.append(item)
    return seen


def plan_import(frame: pd.DataFrame, text_column: str, label_column: str | None = None,
                classes: list[str] | None = None, known_hashes: set[str] | None = None,
                require_classes: bool = True) -> ImportPlan:
    """Validate a table and turn it into rows to insert, without touching the store."""
    if text_column not in frame.columns:
        raise ImportFailed(f"There is no column {text_column!r}. The columns are: "
                           + ", ".join(repr(c) for c in frame.columns) + ".")
    if label_column and label_column not in frame.columns:
        raise ImportFailed(f"There is no label column {label_column!r}. The columns are: "
                           + ", ".join(repr(c) for c in frame.columns) + ".")
    raw_labels = frame[label_column].tolist() if label_column else [None] * len(frame)
    classes = list(classes or [])
    if not classes and label_column:
        classes = sorted({str(v).strip() for v in raw_labels if v is not None and str(v).strip()})
    if require_classes and len(classes) < 2:
        found = f" (found {classes[0]!r} only)" if classes else ""
        raise ImportFailed("A project needs at least two classes" + found
                           + ": name them, or pick a label column that holds at least two.")
    meta_columns = [c for c in frame.columns if c not in (text_column, label_column)]
    texts, labels, metas = [], [], []
    seen = set(known_hashes or ())
    duplicates = blank = 0
    unknown: dict[str, int] = {}
    for row_number, (text, label) in enumerate(zip(frame[text_column].tolist(), raw_labels), start=2):
        text = (text or "").strip()
        if not text:
            blank += 1
            continue
        if len(text) > MAX_TEXT_CHARS:
            raise ImportFailed(f"The text in row {row_number:,} has {len(text):,} characters; "
                               f"the limit is {MAX_TEXT_CHARS:,}.")
        digest = content_hash(text)
        if digest in seen:
            duplicates += 1
            continue
        seen.add(digest)
        label = str(label).strip() if label is not None and str(label).strip() else None
        if label is not None and label not in classes:
            unknown[label] = unknown.get(label, 0) + 1
        texts.append(text)
        labels.append(label)
        row_index = row_number - 2
        metas.append({c: frame[c].iat[row_index] for c in meta_columns if frame[c].iat[row_index] is not None})
    if unknown:
        listed = ", ".join(f"{k!r} ({v})" for k, v in sorted(unknown.items())[:10])
        raise ImportFailed(f"The label column holds values that are not classes of the project: {listed}. "
                           "Add them to the classes or fix the file.")
    if not texts:
        if blank and not duplicates:
            raise ImportFailed(f"Every text in column {text_column!r} is empty or blank.")
        raise ImportFailed("The file adds no new texts: every one is blank or already in the project.")
    return ImportPlan(texts, labels, metas, classes, duplicates, blank)


def shortcut_keys(n: int) -> list[str | None]:
    return [SHORTCUT_KEYS[i] if i < len(SHORTCUT_KEYS) else None for i in range(n)]


def _split_rows(plan: ImportPlan, eval_fraction: float, seed: int) -> list[tuple[str, str, str, str]]:
    rng = random.Random(seed)
    unlabeled = [i for i, label in enumerate(plan.labels) if label is None]
    eval_rows = set(rng.sample(unlabeled, int(round(eval_fraction * len(unlabeled))))) if eval_fraction else set()
    return [(text, json.dumps(meta, ensure_ascii=False), content_hash(text),
             store.EVAL if i in eval_rows else store.POOL)
            for i, (text, meta) in enumerate(zip(plan.texts, plan.metas))]


def _write_rows(conn, project_id: int, plan: ImportPlan, eval_fraction: float, seed: int) -> None:
    rows = _split_rows(plan, eval_fraction, seed)
    ids = store.insert_examples(conn, project_id, rows)
    for (_, _, digest, _), label in zip(rows, plan.labels):
        if label is not None:
            store.add_annotation(conn, project_id, ids[digest], "import", store.LABEL, label=label)
    store.enqueue(conn, project_id, store.EMBED, priority=10)
    if any(label is not None for label in plan.labels):
        store.enqueue(conn, project_id, store.HEAD, {"reason": "imported labels"})


def create_project_from_plan(db, name: str, plan: ImportPlan, class_details: list[dict] | None = None,
                             guidelines: str = "", model: str | None = None, settings=None,
                             eval_fraction: float = 0.0, seed: int = 0) -> int:
    """Create a project, its classes and examples in one transaction.

    `eval_fraction` of the unlabeled texts go to the eval split: a random sample the
    model never chooses from, labeled by the team for an unbiased accuracy estimate.
    """
    details = {d["name"]: d for d in (class_details or [])}
    keys = shortcut_keys(len(plan.classes))
    classes = [{"name": c, "shortcut": details.get(c, {}).get("shortcut") or keys[i],
                "description": details.get(c, {}).get("description", "")} for i, c in enumerate(plan.classes)]
    shortcuts = [c["shortcut"].lower() for c in classes if c["shortcut"]]
    if len(shortcuts) != len(set(shortcuts)):
        raise ImportFailed("Two classes share a shortcut key; give each class its own key.")
    bad = [k for k in shortcuts if len(k) != 1 or not k.isalnum() or k in "cr"]
    if bad:
        raise ImportFailed(f"Shortcut {bad[0]!r} cannot be used: pick one letter or digit other than C and R.")
    if not 0 <= eval_fraction < 1:
        raise ImportFailed("The eval fraction must be at least 0 and below 1.")
    try:
        with store.transaction(db) as conn:
            project_id = store.create_project(conn, name, classes, guidelines, model or "default", settings)
            _write_rows(conn, project_id, plan, eval_fraction, seed)
    except store.StoreError as err:
        raise ImportFailed(str(err)) from None
    return project_id


def add_to_project(db, project_id: int, frame: pd.DataFrame, text_column: str, label_column: str | None = None,
                   eval_fraction: float = 0.0, seed: int = 0) -> ImportPlan:
    """Add more texts (and optionally labels) to an existing project, dropping ones it already has."""
    plan = plan_import(frame, text_column, label_column, classes=store.class_names(db, project_id),
                       known_hashes=store.existing_hashes(db, project_id))
    with store.transaction(db) as conn:
        _write_rows(conn, project_id, plan, eval_fraction, seed)
    return plan


# ---------------------------------------------------------------- export

EXPORT_FORMATS = ("csv", "jsonl", "parquet")


def labels_frame(db, project_id: int) -> pd.DataFrame:
    rows = store.current_labels(db, project_id)
    texts = store.texts_by_id(db, [r["example_id"] for r in rows])
    return pd.DataFrame({
        "text": [texts[r["example_id"]] for r in rows],
        "label": [r["label"] for r in rows],
        "split": [r["split"] for r in rows],
        "annotator": [r["annotator"] for r in rows],
        "labeled_at": pd.to_datetime([r["created_at"] for r in rows], unit="s", utc=True),
        "example_id": [r["example_id"] for r in rows],
    })


def export_labels(db, project_id: int, fmt: str) -> bytes:
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}.")
    frame = labels_frame(db, project_id)
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buffer, index=False)
    elif fmt == "jsonl":
        frame.assign(labeled_at=frame["labeled_at"].astype(str)).to_json(buffer, orient="records", lines=True,
                                                                          force_ascii=False)
    else:
        frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
