"""Import texts into a project.

Reading is strict: a file that cannot be read as the user meant it fails with one
`ImportFailed` message that names the problem, and nothing is written. Writing a whole
import happens in one transaction, so a project is never half-created.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import pandas as pd

from core import store
from core.team import auth

FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
    ".parquet": "parquet", ".pq": "parquet", ".txt": "txt",
}
MAX_LINE_BYTES = 1_000_000  # a longer line is not a text to label; most likely a wrong file
MAX_TEXT_CHARS = 100_000
# A table of texts to label has a few columns. Thousands are a matrix or a wrong file, and
# parsing them took over a minute (pandas' python engine and per-column checks).
MAX_COLUMNS = 1_000
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

    def eval_texts(self, eval_fraction: float) -> int:
        """How many of these texts an import with `eval_fraction` puts in the eval sample."""
        return eval_sample_size(sum(label is None for label in self.labels), eval_fraction) if eval_fraction else 0

    def summary(self) -> str:
        parts = [_count(len(self.texts), "text")]
        labeled = sum(label is not None for label in self.labels)
        if labeled:
            parts.append(f"{labeled:,} already labeled")
        if self.duplicates:
            parts.append(_count(self.duplicates, "duplicate") + " dropped")
        if self.blank:
            parts.append(_count(self.blank, "blank text") + " dropped")
        return ", ".join(parts)


def _count(n: int, noun: str) -> str:
    """"1 duplicate", "2 duplicates" (issue 20: "1 duplicates dropped")."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def detect_format(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in FORMATS:
        raise ImportFailed(f"Cannot tell the format of {Path(filename).name!r}: use one of "
                           + ", ".join(sorted(set(FORMATS))) + ".")
    return FORMATS[suffix]


def _check_line_lengths(stream: BinaryIO, limit: int) -> None:
    """Stop early on a huge line instead of reading gigabytes into memory first.

    A CR alone counts as a line break too: old Mac files and some exports end lines that way.
    """
    line, run = 1, 0
    while chunk := stream.read(1 << 20):
        chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # a CRLF split across chunks: one extra line
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


# Byte-order marks, longest first: a UTF-32-LE BOM starts with the UTF-16-LE one.
BOMS = ((b"\x00\x00\xfe\xff", "utf_32"), (b"\xff\xfe\x00\x00", "utf_32"), (b"\xef\xbb\xbf", "utf_8_sig"),
        (b"\xff\xfe", "utf_16"), (b"\xfe\xff", "utf_16"))
# Openings of common binary files someone might rename to .csv or .txt by mistake.
# Only openings no text starts with; other binaries hold NUL bytes, which no text file does.
BINARY_MAGIC = (b"\x89PNG", b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"%PDF-", b"\xff\xd8\xff", b"GIF87a",
                b"GIF89a", b"\x7fELF", b"SQLite format 3\x00", b"\xd0\xcf\x11\xe0", b"7z\xbc\xaf", b"\xfd7zXZ\x00",
                b"Rar!\x1a\x07")
ENCODING_LABELS = {
    "utf_8": "UTF-8", "utf_8_sig": "UTF-8 (with BOM)", "utf_16": "UTF-16", "utf_16_le": "UTF-16 LE",
    "utf_16_be": "UTF-16 BE", "utf_32": "UTF-32", "utf_32_le": "UTF-32 LE", "utf_32_be": "UTF-32 BE",
    "cp1252": "Latin-1 (Windows-1252)", "latin_1": "Latin-1", "cp1250": "Central European (Windows-1250)",
    "cp1251": "Cyrillic (Windows-1251)", "koi8_r": "Cyrillic (KOI8-R)", "shift_jis": "Japanese (Shift JIS)",
    "cp932": "Japanese (Windows-932)", "euc_jp": "Japanese (EUC-JP)", "gb2312": "Chinese (GB2312)",
    "gb18030": "Chinese (GB18030)", "big5": "Chinese (Big5)", "euc_kr": "Korean (EUC-KR)",
}
NOT_TEXT = "This is not a text file (it looks like {what}). Upload a CSV, TSV, JSON, JSONL, Parquet or TXT file."


def encoding_detected(frame: pd.DataFrame) -> bool:
    """True when the encoding was guessed (no BOM, not UTF-8): worth telling the user, who can fix the file."""
    return bool(frame.attrs.get("encoding_detected"))


def encoding_label(frame_or_codec: pd.DataFrame | str) -> str:
    """A name for the encoding a file was read with, for people rather than codecs."""
    codec = frame_or_codec if isinstance(frame_or_codec, str) else frame_or_codec.attrs.get("encoding", "")
    return ENCODING_LABELS.get(codec, codec.replace("_", "-").upper())


def _decode(raw: bytes) -> tuple[str, str, bool]:
    """Text, codec name, and whether the codec was guessed (no BOM, not UTF-8).

    UTF-8 (or a BOM) first; otherwise charset-normalizer guesses.

    Binary files are told apart first (magic numbers, NUL bytes), so that a PNG renamed .csv
    gets "not a text file" rather than advice about encodings.
    """
    for bom, codec in BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec), codec, False
            except UnicodeDecodeError as err:
                name = encoding_label(codec).removesuffix(" (with BOM)")
                raise ImportFailed(f"The file starts with a {name} byte-order mark, but byte {err.start:,} is not "
                                   f"valid {name}. Save it again as UTF-8 and upload it again.") from None
    if raw.startswith(BINARY_MAGIC):
        raise ImportFailed(NOT_TEXT.format(what="an image, archive, document or program"))
    if b"\x00" not in raw:
        try:
            return raw.decode("utf_8"), "utf_8", False
        except UnicodeDecodeError:
            pass
    return *_guess_encoding(raw), True


# Single-byte code pages for Latin-script text (and ones charset-normalizer confuses them with on
# short texts, e.g. cp1006); Cyrillic, Greek, Hebrew and Arabic code pages are not among them.
LATIN_SCRIPT_CODE_PAGES = {
    "latin_1", "iso8859_2", "iso8859_3", "iso8859_4", "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14",
    "iso8859_15", "iso8859_16", "cp1250", "cp1252", "cp1254", "cp1257", "mac_roman", "mac_latin2", "mac_iceland",
    "mac_turkish", "cp437", "cp850", "cp858", "cp1006", "hp_roman8",
}


def _decodes(raw: bytes, codec: str) -> bool:
    try:
        raw.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _guess_encoding(raw: bytes) -> tuple[str, str]:
    """charset-normalizer's best guess; among equally good guesses, the most common encoding wins.

    On short texts many single-byte code pages decode equally cleanly (charset-normalizer may
    call 'café' Farsi cp1006); Windows-1252 is what Excel writes in the West, so it breaks ties.
    """
    from charset_normalizer import from_bytes

    matches = list(from_bytes(raw))
    if not matches:
        raise ImportFailed(NOT_TEXT.format(what="binary data: no text encoding reads it"))
    best = matches[0]
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    codec = next((c for c in ("cp1252",) if any(c in m.could_be_from_charset for m in tied)), best.encoding)
    if codec in LATIN_SCRIPT_CODE_PAGES and _decodes(raw, "cp1252"):
        # Between Latin-script code pages the statistics of a short file decide little (a Latin-1
        # "n°" was read as ISO-8859-14 "nḞ"); Windows-1252, what Excel writes in the West, reads
        # every Latin-1 file right, so it wins whenever it reads the bytes at all.
        codec = "cp1252"
    if b"\x00" in raw and not codec.startswith(("utf_16", "utf_32")):
        raise ImportFailed(NOT_TEXT.format(what="binary data: it holds NUL bytes"))
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError:  # charset-normalizer judged a sample; the whole file disagrees
        raise ImportFailed(NOT_TEXT.format(what="binary data or a mix of encodings")) from None


def read_table(source: str | Path | bytes | BinaryIO, filename: str | None = None,
               max_line_bytes: int = MAX_LINE_BYTES, header: bool = True) -> pd.DataFrame:
    """Read a CSV, TSV, JSONL, JSON (list of records), Parquet or TXT (one text per line) file.

    Every column comes back as strings (missing cells as None). `frame.attrs` says how it was
    read: "format", "header", "encoding" (a codec name, see `encoding_label`), "encoding_detected" (guessed, not
    UTF-8 or marked by a BOM) and "column_kinds" (columns whose values are not text or numbers,
    e.g. {"image": "binary"}; `plan_import` refuses them as text or labels). `header=False`
    reads a CSV/TSV whose first row is data; its columns are then called column_1, column_2, ...
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
        frame, encoding, detected = _read(stream, fmt, max_line_bytes, header)
    finally:
        if isinstance(source, (str, Path)):
            stream.close()
    if frame.empty or len(frame.columns) == 0:
        raise ImportFailed(f"{Path(filename).name!r} holds no rows.")
    names = _column_names(frame.columns)
    kinds = {}
    columns = {}
    for position, name in enumerate(names):  # by position: raw names may repeat (two blank header cells)
        values, kind = _text_values(frame.iloc[:, position].tolist(), name)
        columns[name] = pd.Series(values, dtype=object)
        if kind:
            kinds[name] = kind
    result = pd.DataFrame(columns)
    result.attrs.update(format=fmt, header=header, encoding=encoding, encoding_detected=detected, column_kinds=kinds)
    return result


def can_lack_header(frame: pd.DataFrame) -> bool:
    """Only CSV and TSV name their columns in a first row that may be missing."""
    return frame.attrs.get("format") in ("csv", "tsv") and frame.attrs.get("header", True)


HEADER_MAX_CHARS = 40
HEADER_MAX_WORDS = 5


def first_row_looks_like_data(frame: pd.DataFrame, sample: int = 1000) -> bool:
    """True when the column names of a CSV/TSV read with a header look like a row of data.

    Without a header row, the first text silently becomes a column name. Names are short
    words; a cell that is a number, reads like a sentence, or repeats a value of its own column
    (a label such as 'pos') is data. Read again with `read_table(..., header=False)`.
    """
    if not can_lack_header(frame):
        return False
    for i, name in enumerate(frame.columns, start=1):
        if name == f"column_{i}":  # a blank name: no evidence either way
            continue
        if _number(name) or len(name) > HEADER_MAX_CHARS or len(name.split()) > HEADER_MAX_WORDS \
                or (" " in name and name.rstrip()[-1] in ".!?"):
            return True
        if name in set(frame[name].iloc[:sample].dropna()):
            return True
    return False


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _column_names(raw_names) -> list[str]:
    """Stripped names, blanks numbered; two names that are the same after stripping are refused."""
    names = [str(c).strip() or f"column_{i}" for i, c in enumerate(raw_names, start=1)]
    _check_unicode(names, lambda i: f"The name of column {i + 1}")
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise ImportFailed("The file has duplicate column names: " + ", ".join(repr(n) for n in repeated)
                           + ". Give each column its own name.")
    return names


_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_unicode(values: list[str | None], where: Callable[[int], str]) -> None:
    """JSON escapes can hold lone surrogates (half an emoji); no database or hash accepts them."""
    for i, value in enumerate(values):
        if value is not None and not value.isascii() and _SURROGATE.search(value):
            raise ImportFailed(f"{where(i)} is not valid Unicode: it holds half of a character (a lone surrogate, "
                               "as left by cutting an emoji in two). Fix the file.")


def _kind(value) -> str | None:
    """None for a value that is fine as text (strings, numbers, dates); else what it is."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "binary"
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return "list"
    if isinstance(value, dict):
        return "struct"
    return None


def _text_values(values: list, name: str) -> tuple[list[str | None], str | None]:
    """Strings (None where missing) and the first non-text kind found, if any."""
    kind = None
    out: list[str | None] = []
    for value in values:
        if _missing(value):
            out.append(None)
            continue
        kind = kind or _kind(value)
        out.append(value if isinstance(value, str) else str(value))
    _check_unicode(out, lambda i: f"Row {i + 1:,} of column {name!r}")
    return out, kind


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and dicts from JSON are values, not missing
        return False


def _read(stream: BinaryIO, fmt: str, max_line_bytes: int, header: bool) -> tuple[pd.DataFrame, str, bool]:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.ParquetFile(stream).read()  # not read_table: its dataset layer fails on repeated names
        except Exception as err:  # pyarrow raises many types for a broken file
            raise ImportFailed(f"This is not a readable Parquet file ({type(err).__name__}: {err}).") from None
        _check_width(table.num_columns)
        _column_names(table.column_names)  # Arrow allows repeated names; pandas cannot select them
        try:
            return table.to_pandas(), "parquet", False
        except Exception as err:  # a column type pandas has no counterpart for
            raise ImportFailed(f"This Parquet file cannot be read as a table ({type(err).__name__}: {err}).") from None
    if stream.seekable():
        _check_line_lengths(stream, max_line_bytes)
    text, encoding, detected = _decode(stream.read())
    if not text.strip():
        raise ImportFailed("The file is empty.")
    try:
        if fmt in ("csv", "tsv"):
            _check_csv_width(text, "," if fmt == "csv" else "\t", header)
            frame = _read_csv(text, "," if fmt == "csv" else "\t", header)
        elif fmt == "jsonl":
            frame = _records_frame([_json_line(number, line) for number, line in
                                    enumerate(_LINE_BREAK.split(text), start=1) if line.strip()])
        elif fmt == "json":
            frame = _records_frame(_json(text))
        else:
            frame = pd.DataFrame({"text": _LINE_BREAK.split(text.removesuffix("\n").removesuffix("\r"))})
    except json.JSONDecodeError as err:
        raise ImportFailed(f"The file is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}.") from None
    except RecursionError:
        raise ImportFailed("The JSON is nested too deeply to be a list of records.") from None
    except (pd.errors.ParserError, csv.Error) as err:
        raise ImportFailed(f"The file could not be parsed as {fmt.upper()}: {err}") from None
    return frame, encoding, detected


_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # not str.splitlines: that also splits on \x0b, \x1c, \u2028 inside a text


def _json(text: str):
    """Numbers stay as written (no 4,300-digit limit, no rounding); NaN and Infinity are missing;
    a record that holds a key twice is refused (json keeps the last value and drops the other)."""
    return json.loads(text, parse_int=str, parse_float=str, parse_constant=lambda _: None,
                      object_pairs_hook=_record)


def _json_line(number: int, line: str):
    try:
        return _json(line)
    except ImportFailed as err:
        raise ImportFailed(f"Line {number:,}: {err}") from None


def _record(pairs: list[tuple[str, object]]) -> dict:
    _check_width(len(pairs))
    record = dict(pairs)
    if len(record) < len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ImportFailed(f"A record holds the key {twice!r} twice, so one of its values would be lost. "
                           "Give each field its own name.")
    return record


def _check_width(columns: int, where: str = "The file") -> None:
    if columns > MAX_COLUMNS:
        raise ImportFailed(f"{where} has {columns:,} columns; Sieve reads at most {MAX_COLUMNS:,}. "
                           "Keep the text column (and a label column) and leave the rest out.")


def _check_csv_width(text: str, sep: str, header: bool) -> None:
    """One pass of the C csv reader counts each row's fields before pandas parses the table."""
    for number, row in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=sep), start=0 if header else 1):
        if len(row) > MAX_COLUMNS:
            _check_width(len(row), "The file" if number == 0 else f"Row {number:,}")


def _read_csv(text: str, sep: str, header: bool) -> pd.DataFrame:
    """Rows as strings; the header row is taken here so that its names can be checked as written."""
    rows = pd.read_csv(io.StringIO(text, newline=""), sep=sep, header=None, dtype=str, keep_default_na=False,
                       na_values=[""], engine="python", skip_blank_lines=False)
    if not header:
        rows.columns = [f"column_{i}" for i in range(1, len(rows.columns) + 1)]
        return rows
    names = ["" if _missing(v) else v for v in rows.iloc[0].tolist()] if len(rows) else []
    rows = rows.iloc[1:].reset_index(drop=True)
    rows.columns = names
    return rows


def _records_frame(records) -> pd.DataFrame:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ImportFailed("A JSON file must hold a list of records, like "
                           '[{"text": "...", "label": "..."}]; JSONL must hold one such record per line.')
    keys = [k for k in dict.fromkeys(k for r in records for k in r)]
    _column_names(keys)  # " text" and "text" would collide once stripped
    return pd.DataFrame({k: [r.get(k) for r in records] for k in keys}, dtype=object)


# Values that pandas (and Excel, R, SQL dumps) write for "no value". A label equal to one of
# these is a missing label, never a class; a text equal to one is still a text.
MISSING_MARKERS = frozenset(m.lower() for m in (
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
    "NULL", "NaN", "None", "n/a", "nan", "null", "inf", "-inf", "+inf", "Infinity", "-Infinity", "+Infinity"))
MAX_CLASSES = 250  # more distinct labels than this is an id or text column picked by mistake
MAX_CLASS_CHARS = 100


def parse_classes(spec: str | list[str] | None) -> list[str]:
    """Classes from a list, or from a comma- or newline-separated string; order kept, blanks and repeats dropped.

    The string is read as CSV, so a class with a comma in its name is written in double quotes:
    `billing, "refunds, returns"` (see `format_classes`).
    """
    if spec is None:
        return []
    if isinstance(spec, list):
        items = spec
    else:
        try:
            items = [i for row in csv.reader(io.StringIO(spec), skipinitialspace=True) for i in row]
        except csv.Error:  # e.g. a stray quote while typing: fall back to plain commas
            items = spec.replace("\n", ",").split(",")
    seen: list[str] = []
    for item in (str(i).strip() for i in items):
        if not _blank(item) and item not in seen:
            seen.append(item)
    return seen


def format_classes(names: list[str]) -> str:
    """The comma-separated spec that `parse_classes` reads back as `names` (quoted where CSV needs it)."""
    return ", ".join('"' + n.replace('"', '""') + '"' if any(ch in n for ch in ',"\r\n') else n for n in names)


def _blank(text: str) -> bool:
    """Nothing to read: only whitespace, control characters (NUL...) or invisible format characters."""
    return all(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def _check_class_names(classes: list[str], source: str) -> None:
    if len(classes) > MAX_CLASSES:
        raise ImportFailed(f"{source} holds {len(classes):,} classes; a project can have at most {MAX_CLASSES}. "
                           "Is this the right label column?")
    for name in classes:
        if _blank(name):
            raise ImportFailed(f"{source} holds a blank class name (only spaces or invisible characters).")
        if _SURROGATE.search(name):
            raise ImportFailed(f"{source} holds a class name that is not valid Unicode: it has half of a character "
                               "(a lone surrogate).")
        if len(name) > MAX_CLASS_CHARS:
            raise ImportFailed(f"{source} holds a class name of {len(name):,} characters ({name[:30]!r}...); "
                               f"a class name can have at most {MAX_CLASS_CHARS} characters.")
        if name.lower() in MISSING_MARKERS:
            raise ImportFailed(f"{name!r} cannot be a class name: files use it for a missing value. "
                               "Call the class something else.")


def _label(value: str | None) -> str | None:
    """A label cell as a class name, or None when it is empty or a missing-value marker."""
    if value is None or _blank(value):
        return None
    value = value.strip()
    return None if value.lower() in MISSING_MARKERS else value


def label_classes(frame: pd.DataFrame, label_column: str | None) -> list[str]:
    """The classes a label column holds, as `plan_import` would find them (missing markers left out)."""
    if not label_column:
        return []
    return sorted({label for label in map(_label, frame[label_column].tolist()) if label is not None})


def labeled_count(frame: pd.DataFrame, text_column: str, label_column: str | None) -> tuple[int, int]:
    """(texts that would arrive labeled, texts that would arrive), after blanks and duplicates go.

    Raises ImportFailed as `plan_import` would, so the page can say what is wrong before Create.
    """
    plan = plan_import(frame, text_column, label_column, require_classes=False)
    return sum(label is not None for label in plan.labels), len(plan.texts)


def _check_text_column(frame: pd.DataFrame, column: str, role: str) -> None:
    kind = frame.attrs.get("column_kinds", {}).get(column)
    if kind:
        raise ImportFailed(f"The {role} column {column!r} holds {kind} values, not text. Pick another column "
                           "or convert it to text.")


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
    _check_text_column(frame, text_column, "text")
    if label_column:
        _check_text_column(frame, label_column, "label")
    raw_labels = [_label(v) for v in frame[label_column].tolist()] if label_column else [None] * len(frame)
    _check_class_names(list(classes or []), "The class list")
    classes = list(dict.fromkeys(c.strip() for c in classes or []))  # labels are compared stripped
    if not classes and label_column:
        classes = label_classes(frame, label_column)
        _check_class_names(classes, f"The label column {label_column!r}")
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
        if _blank(text):
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
        if label is not None and label not in classes:
            unknown[label] = unknown.get(label, 0) + 1
        texts.append(text)
        labels.append(label)
        row_index = row_number - 2
        metas.append({c: frame[c].iat[row_index] for c in meta_columns if frame[c].iat[row_index] is not None})
    if unknown:
        listed = ", ".join(f"{k[:MAX_CLASS_CHARS]!r} ({v})" for k, v in sorted(unknown.items())[:10])
        raise ImportFailed(f"The label column holds values that are not classes of the project: {listed}. "
                           "Add them to the classes or fix the file.")
    if not texts:
        if blank and not duplicates:
            raise ImportFailed(f"Every text in column {text_column!r} is empty or blank.")
        raise ImportFailed("The file adds no new texts: every one is blank or already in the project.")
    return ImportPlan(texts, labels, metas, classes, duplicates, blank)


def multi_shortcut_keys(n: int) -> list[str | None]:
    """A multi-label project's keys: as `shortcut_keys` but without 0, which answers "none of these"."""
    keys = SHORTCUT_KEYS.replace("0", "")
    return [keys[i] if i < len(keys) else None for i in range(n)]


def shortcut_keys(n: int) -> list[str | None]:
    return [SHORTCUT_KEYS[i] if i < len(SHORTCUT_KEYS) else None for i in range(n)]


# A new project reserves this share of its unlabeled texts as the eval sample, at most EVAL_CAP:
# 400 labeled eval texts put a 95 % interval of about +-4 points around an accuracy of 80 %.
DEFAULT_EVAL_FRACTION = 0.05
EVAL_CAP = 400


def eval_sample_size(n_unlabeled: int, eval_fraction: float) -> int:
    return min(int(round(eval_fraction * n_unlabeled)), EVAL_CAP)


def _split_rows(plan: ImportPlan, eval_fraction: float, seed: int) -> list[tuple[str, str, str, str]]:
    rng = random.Random(seed)
    unlabeled = [i for i, label in enumerate(plan.labels) if label is None]
    eval_rows = set(rng.sample(unlabeled, eval_sample_size(len(unlabeled), eval_fraction))) if eval_fraction else set()
    return [(text, json.dumps(meta, ensure_ascii=False), content_hash(text),
             store.Split.EVAL if i in eval_rows else store.Split.POOL)
            for i, (text, meta) in enumerate(zip(plan.texts, plan.metas))]


def _write_rows(conn, project_id: int, plan: ImportPlan, eval_fraction: float, seed: int) -> None:
    rows = _split_rows(plan, eval_fraction, seed)
    ids = store.insert_examples(conn, project_id, rows)
    for (_, _, digest, _), label in zip(rows, plan.labels):
        if label is not None:
            store.add_annotation(conn, project_id, ids[digest], "import", store.Action.LABEL, label=label)
    store.enqueue(conn, project_id, store.JobKind.EMBED, priority=10)
    if any(label is not None for label in plan.labels):
        store.enqueue_coalesced(conn, project_id, store.JobKind.HEAD, {"reason": "imported labels"})


def _cell(value) -> str:
    """A cell from the page's class table: an emptied cell comes back as None or NaN, not ''."""
    return value.strip() if isinstance(value, str) else ""


def create_project_from_plan(db, actor, name: str, plan: ImportPlan, class_details: list[dict] | None = None,
                             guidelines: str = "", model: str | None = None, settings=None,
                             eval_fraction: float = 0.0, seed: int = 0, kind: str = "single") -> int:
    """Create a project, its classes and examples in one transaction (`kind`: 'single' or 'multi',
    fixed for good; a multi-label plan comes from `core.files.multilabel_io.plan_import`).

    `eval_fraction` of the unlabeled texts go to the eval split: a random sample the
    model never chooses from, labeled by the team for an unbiased accuracy estimate.
    """
    actor = auth.require(db, actor, auth.MANAGE_PROJECTS)
    details = {d.get("name"): d for d in (class_details or [])}
    keys = shortcut_keys(len(plan.classes)) if kind == "single" else multi_shortcut_keys(len(plan.classes))
    classes = [{"name": c, "shortcut": _cell(details.get(c, {}).get("shortcut")) or keys[i],
                "description": _cell(details.get(c, {}).get("description"))} for i, c in enumerate(plan.classes)]
    shortcuts = [c["shortcut"].lower() for c in classes if c["shortcut"]]
    if len(shortcuts) != len(set(shortcuts)):
        raise ImportFailed("Two classes share a shortcut key; give each class its own key.")
    bad = [k for k in shortcuts if len(k) != 1 or not k.isalnum() or k in "cr"]
    if bad:
        raise ImportFailed(f"Shortcut {bad[0]!r} cannot be used: pick one letter or digit other than C and R.")
    if kind == "multi" and "0" in shortcuts:
        raise ImportFailed("Shortcut '0' answers \"none of these\" in a multi-label project: pick another key.")
    if not 0 <= eval_fraction < 1:
        raise ImportFailed("The eval fraction must be at least 0 and below 1.")
    try:
        with store.transaction(db) as conn:
            project_id = store.create_project(conn, name, classes, guidelines, model or "default", settings, kind)
            _write_rows(conn, project_id, plan, eval_fraction, seed)
            auth.audit(conn, actor, "create project", project_id, name=name, texts=len(plan.texts))
    except store.StoreError as err:
        raise ImportFailed(str(err)) from None
    return project_id


def add_to_project(db, actor, project_id: int, frame: pd.DataFrame, text_column: str, label_column: str | None = None,
                   eval_fraction: float = 0.0, seed: int = 0) -> ImportPlan:
    """Add more texts (and optionally labels) to an existing project, dropping ones it already has."""
    actor = auth.require(db, actor, auth.MANAGE_PROJECTS, project_id)
    plan = plan_import(frame, text_column, label_column, classes=store.class_names(db, project_id),
                       known_hashes=store.existing_hashes(db, project_id))
    with store.transaction(db) as conn:
        _write_rows(conn, project_id, plan, eval_fraction, seed)
        auth.audit(conn, actor, "add texts", project_id)
    return plan
