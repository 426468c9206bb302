"""Label export (core.files.exports): formats, formula-safe CSV."""
import pandas as pd
import pytest

from core import store
from core.files import exports, imports
from core.team import auth
from tests.conftest import make_project
from tests.unit.test_imports import create


@pytest.mark.parametrize("fmt", exports.EXPORT_FORMATS)
def test_export_round_trip(db, tmp_path, fmt):
    from core.labeling import annotate

    pid, _ = create(db, "text\nüber gut\nschlecht\n".encode(), "a.csv")
    first, second = store.example_ids(db, pid)
    annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(first), "pos")
    annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(second), "neg")
    annotate.undo_last(db, auth.local_actor("ann"), pid)
    path = tmp_path / f"labels.{fmt}"
    path.write_bytes(exports.export_labels(db, auth.local_actor(), pid, fmt))
    frame = imports.read_table(path)
    assert frame[["text", "label"]].values.tolist() == [["über gut", "pos"]]


FORMULAS = ["=HYPERLINK(\"http://evil\",\"click\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tindented",
            "\rreturn", "plain text"]


def labeled_project(db, texts, labels):
    from core.labeling import annotate

    pid = make_project(db, texts, labels)
    for example_id, label in zip(store.example_ids(db, pid), labels):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), label)
    return pid


def test_csv_export_is_formula_safe_and_other_formats_keep_raw_text(db, tmp_path):
    import csv

    labels = ["=cls", "+other", "-neg", "@at", "tab", "cr", "ok"]  # class names are stripped: no tab or CR first
    pid = labeled_project(db, [f"x{t}" if t[0] in "\t\r" else t for t in FORMULAS], labels)
    path = tmp_path / "labels.csv"
    path.write_bytes(exports.export_labels(db, auth.local_actor(), pid, "csv"))
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["label"] for r in rows] == ["'=cls", "'+other", "'-neg", "'@at", "tab", "cr", "ok"]
    assert rows[0]["text"] == "'" + FORMULAS[0] and rows[-1]["text"] == "plain text"
    assert all(not r["annotator"].startswith(("=", "+", "-", "@")) for r in rows)
    for fmt in ("jsonl", "parquet"):
        (tmp_path / f"labels.{fmt}").write_bytes(exports.export_labels(db, auth.local_actor(), pid, fmt))
        frame = imports.read_table(tmp_path / f"labels.{fmt}")
        assert frame["label"].tolist() == labels and frame["text"].iat[0] == FORMULAS[0]


def test_csv_export_escapes_texts_that_start_with_tab_or_cr():
    frame = pd.DataFrame({"text": ["\tcell", "\r=x", "=1", "fine -1"], "n": [1, -1, 2, 3]})
    assert exports.formula_safe(frame)["text"].tolist() == ["'\tcell", "'\r=x", "'=1", "fine -1"]
    assert exports.formula_safe(frame)["n"].tolist() == [1, -1, 2, 3]  # numbers are numbers, not formulas


def test_csv_export_keeps_a_lone_cr_inside_a_text(db, tmp_path):
    pid = labeled_project(db, ["line one\rline two", "other"], ["pos", "neg"])
    path = tmp_path / "labels.csv"
    path.write_bytes(exports.export_labels(db, auth.local_actor(), pid, "csv"))
    assert imports.read_table(path)[["text", "label"]].values.tolist() == [["line one\rline two", "pos"], ["other", "neg"]]


