import json

import pandas as pd
import pytest

from core import io, store

CLASSES = ["pos", "neg"]


def create(db, content: bytes, name: str, text_column="text", label_column=None, classes=CLASSES):
    frame = io.read_table(content, name)
    plan = io.plan_import(frame, text_column, label_column, classes)
    return io.create_project_from_plan(db, "p", plan), plan


@pytest.mark.parametrize("name,content", [
    ("a.csv", b'text,label\n"good, really",pos\nbad,neg\n'),
    ("a.tsv", b"text\tlabel\ngood, really\tpos\nbad\tneg\n"),
    ("a.jsonl", b'{"text": "good, really", "label": "pos"}\n{"text": "bad", "label": "neg"}\n'),
    ("a.json", json.dumps([{"text": "good, really", "label": "pos"}, {"text": "bad", "label": "neg"}]).encode()),
])
def test_formats_import_texts_and_labels(db, name, content):
    pid, plan = create(db, content, name, label_column="label")
    assert plan.texts == ["good, really", "bad"]
    assert {r["label"] for r in store.current_labels(db, pid)} == {"pos", "neg"}


def test_parquet_and_txt(db, tmp_path):
    path = tmp_path / "a.parquet"
    pd.DataFrame({"body": ["one", "two"], "source": ["x", "y"]}).to_parquet(path)
    pid, plan = create(db, path.read_bytes(), "a.parquet", text_column="body")
    assert store.example(db, store.example_ids(db, pid)[0])["meta"] == {"source": "x"}
    plan = io.plan_import(io.read_table(b"first line\n\nsecond line\n", "a.txt"), "text", None, CLASSES)
    assert plan.texts == ["first line", "second line"] and plan.blank == 1


def test_duplicates_dropped_and_counted(db):
    pid, plan = create(db, b"text\nsame\nsame\n same \nother\n", "a.csv")
    assert plan.duplicates == 2 and store.example_count(db, pid) == 2


def test_classes_from_label_column(db):
    frame = io.read_table(b"text,label\na,x\nb,y\nc,\n", "a.csv")
    plan = io.plan_import(frame, "text", "label")
    assert plan.classes == ["x", "y"] and plan.labels == ["x", "y", None]


@pytest.mark.parametrize("name,content,classes,label_column,message", [
    ("a.csv", "text\ncaf\xe9\n".encode("latin-1"), CLASSES, None, "not UTF-8"),
    ("a.csv", b"body\nx\n", CLASSES, None, "no column 'text'"),
    ("a.csv", b"text\n \n\t\n", CLASSES, None, "empty or blank"),
    ("a.csv", b"text\nx\n", ["only"], None, "at least two classes"),
    ("a.csv", b"text,label\nx,a\ny,a\n", None, "label", "at least two classes"),
    ("a.csv", b"", CLASSES, None, "empty"),
    ("a.csv", b"text,label\nx,pos\ny,maybe\n", CLASSES, "label", "'maybe'"),
    ("a.json", b'{"text": "x"}', CLASSES, None, "list of records"),
    ("a.jsonl", b'{"text": "x"\n', CLASSES, None, "not valid JSON"),
    ("a.xlsx", b"whatever", CLASSES, None, "Cannot tell the format"),
    ("a.parquet", b"not parquet", CLASSES, None, "not a readable Parquet"),
])
def test_bad_input_gets_a_clear_message_and_no_change(db, name, content, classes, label_column, message):
    with pytest.raises(io.ImportFailed, match=message):
        create(db, content, name, label_column=label_column, classes=classes)
    assert store.projects(db) == [] and store.example_count(db, 1) == 0


def test_one_gigabyte_line_is_refused_without_reading_it(db, tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as handle:
        handle.write(b"a normal line\n")
        handle.truncate(1 << 30)  # sparse: a 1 GB line without using 1 GB of disk
    with pytest.raises(io.ImportFailed, match="Line 2 is longer than"):
        io.read_table(path)


def test_duplicate_project_name_leaves_store_unchanged(db):
    create(db, b"text\na\n", "a.csv")
    with pytest.raises(io.ImportFailed, match="already exists"):
        create(db, b"text\nb\n", "a.csv")
    assert store.example_count(db, 1) == 1 and len(store.projects(db)) == 1


def test_add_data_later_skips_known_texts(db):
    pid, _ = create(db, b"text\na\nb\n", "a.csv")
    plan = io.add_to_project(db, pid, io.read_table(b"text,label\nb,pos\nc,neg\n", "more.csv"), "text", "label")
    assert plan.texts == ["c"] and plan.duplicates == 1
    assert store.example_count(db, pid) == 3
    with pytest.raises(io.ImportFailed, match="adds no new texts"):
        io.add_to_project(db, pid, io.read_table(b"text\na\n", "again.csv"), "text")


def test_eval_fraction_splits_unlabeled_texts(db):
    plan = io.plan_import(io.read_table(("text\n" + "\n".join(f"t{i}" for i in range(100))).encode(), "a.csv"),
                          "text", None, CLASSES)
    pid = io.create_project_from_plan(db, "p", plan, eval_fraction=0.2)
    assert store.example_count(db, pid, store.EVAL) == 20


def test_shortcuts_validated(db):
    plan = io.plan_import(io.read_table(b"text\na\n", "a.csv"), "text", None, CLASSES)
    with pytest.raises(io.ImportFailed, match="share a shortcut"):
        io.create_project_from_plan(db, "p", plan, [{"name": "pos", "shortcut": "1"}, {"name": "neg", "shortcut": "1"}])
    with pytest.raises(io.ImportFailed, match="cannot be used"):
        io.create_project_from_plan(db, "p", plan, [{"name": "pos", "shortcut": "r"}])
    assert store.projects(db) == []


@pytest.mark.parametrize("fmt", io.EXPORT_FORMATS)
def test_export_round_trip(db, tmp_path, fmt):
    from core import annotate

    pid, _ = create(db, "text\nüber gut\nschlecht\n".encode(), "a.csv")
    first, second = store.example_ids(db, pid)
    annotate.submit_label(db, pid, first, "ann", "pos")
    annotate.submit_label(db, pid, second, "ann", "neg")
    annotate.undo_last(db, pid, "ann")
    path = tmp_path / f"labels.{fmt}"
    path.write_bytes(io.export_labels(db, pid, fmt))
    frame = io.read_table(path)
    assert frame[["text", "label"]].values.tolist() == [["über gut", "pos"]]
