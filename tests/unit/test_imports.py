import json
import time

import pandas as pd
import pytest

from core import store
from core.files import imports
from core.team import auth

CLASSES = ["pos", "neg"]


def create(db, content: bytes, name: str, text_column="text", label_column=None, classes=CLASSES):
    frame = imports.read_table(content, name)
    plan = imports.plan_import(frame, text_column, label_column, classes)
    return imports.create_project_from_plan(db, auth.local_actor(), "p", plan), plan


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
    plan = imports.plan_import(imports.read_table(b"first line\n\nsecond line\n", "a.txt"), "text", None, CLASSES)
    assert plan.texts == ["first line", "second line"] and plan.blank == 1


def test_duplicates_dropped_and_counted(db):
    pid, plan = create(db, b"text\nsame\nsame\n same \nother\n", "a.csv")
    assert plan.duplicates == 2 and store.example_count(db, pid) == 2


def test_classes_from_label_column(db):
    frame = imports.read_table(b"text,label\na,x\nb,y\nc,\n", "a.csv")
    plan = imports.plan_import(frame, "text", "label")
    assert plan.classes == ["x", "y"] and plan.labels == ["x", "y", None]


@pytest.mark.parametrize("name,content,classes,label_column,message", [
    ("a.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", CLASSES, None, "not a text file"),
    ("a.csv", b"PK\x03\x04\x14\x00\x00\x00\x08\x00text,label", CLASSES, None, "not a text file"),
    ("a.txt", b"text\x00\x00\x01\x02\xff\xfe\xfd" * 20, CLASSES, None, "not a text file"),
    ("a.csv", b"\xff\xfe" + "text\n".encode("utf-16-le") + b"\x00\xd8", CLASSES, None, "UTF-16"),
    ("a.json", b"[" * 1000, CLASSES, None, "nested too deeply"),
    ("a.csv", b"text, text,label\na,b,pos\n", CLASSES, None, "duplicate column names: 'text'"),
    ("a.json", b'[{"text": "ok", " text": "again"}]', CLASSES, None, "duplicate column names: 'text'"),
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
    with pytest.raises(imports.ImportFailed, match=message):
        create(db, content, name, label_column=label_column, classes=classes)
    assert store.projects(db) == [] and store.example_count(db, 1) == 0


def test_one_gigabyte_line_is_refused_without_reading_it(db, tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as handle:
        handle.write(b"a normal line\n")
        handle.truncate(1 << 30)  # sparse: a 1 GB line without using 1 GB of disk
    with pytest.raises(imports.ImportFailed, match="Line 2 is longer than"):
        imports.read_table(path)


def test_duplicate_project_name_leaves_store_unchanged(db):
    create(db, b"text\na\n", "a.csv")
    with pytest.raises(imports.ImportFailed, match="already exists"):
        create(db, b"text\nb\n", "a.csv")
    assert store.example_count(db, 1) == 1 and len(store.projects(db)) == 1


def test_add_data_later_skips_known_texts(db):
    pid, _ = create(db, b"text\na\nb\n", "a.csv")
    plan = imports.add_to_project(db, auth.local_actor(), pid, imports.read_table(b"text,label\nb,pos\nc,neg\n", "more.csv"), "text", "label")
    assert plan.texts == ["c"] and plan.duplicates == 1
    assert store.example_count(db, pid) == 3
    with pytest.raises(imports.ImportFailed, match="adds no new texts"):
        imports.add_to_project(db, auth.local_actor(), pid, imports.read_table(b"text\na\n", "again.csv"), "text")


def test_eval_fraction_splits_unlabeled_texts(db):
    plan = imports.plan_import(imports.read_table(("text\n" + "\n".join(f"t{i}" for i in range(100))).encode(), "a.csv"),
                          "text", None, CLASSES)
    pid = imports.create_project_from_plan(db, auth.local_actor(), "p", plan, eval_fraction=0.2)
    assert store.example_count(db, pid, store.Split.EVAL) == 20


def test_shortcuts_validated(db):
    plan = imports.plan_import(imports.read_table(b"text\na\n", "a.csv"), "text", None, CLASSES)
    with pytest.raises(imports.ImportFailed, match="share a shortcut"):
        imports.create_project_from_plan(db, auth.local_actor(), "p", plan, [{"name": "pos", "shortcut": "1"}, {"name": "neg", "shortcut": "1"}])
    with pytest.raises(imports.ImportFailed, match="cannot be used"):
        imports.create_project_from_plan(db, auth.local_actor(), "p", plan, [{"name": "pos", "shortcut": "r"}])
    assert store.projects(db) == []


LATIN = 'text\n"caf\xe9 cr\xe8me, tr\xe8s bon"\nna\xefve fa\xe7ade\n'


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_latin1_file_imports_and_reports_the_encoding(db, encoding):
    frame = imports.read_table(("text\ncaf\xe9\n" + LATIN[5:]).encode(encoding), "a.csv")
    assert frame["text"].tolist() == ["caf\xe9", "caf\xe9 cr\xe8me, tr\xe8s bon", "na\xefve fa\xe7ade"]
    assert frame.attrs["encoding"] == "cp1252" and imports.encoding_label(frame) == "Latin-1 (Windows-1252)"
    pid, plan = create(db, LATIN.encode(encoding), "a.csv")
    assert store.texts_by_id(db, store.example_ids(db, pid))[store.example_ids(db, pid)[0]] == "caf\xe9 cr\xe8me, tr\xe8s bon"


def test_cp1252_punctuation_and_cyrillic_are_detected():
    frame = imports.read_table("text\n\u201cquoted\u201d \u2013 dash \u20ac\n".encode("cp1252"), "a.txt")
    assert frame["text"].tolist()[1] == "\u201cquoted\u201d \u2013 dash \u20ac"
    russian = "text\n\u043f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440, \u043a\u0430\u043a \u0434\u0435\u043b\u0430 \u0443 \u0442\u0435\u0431\u044f\n"
    frame = imports.read_table(russian.encode("cp1251"), "a.txt")
    assert frame["text"].tolist()[1] == russian.split("\n")[1] and frame.attrs["encoding"] == "cp1251"


def test_utf8_file_reports_utf8():
    frame = imports.read_table("text\n\u00fcber\n".encode(), "a.csv")
    assert frame.attrs["encoding"] == "utf_8" and imports.encoding_label(frame) == "UTF-8"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
                                      "utf-32-be"])
def test_unicode_encodings_with_and_without_bom(encoding):
    content = "text,label\n\u00fcber gut,pos\nschlecht,neg\n".encode(encoding)
    if encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):  # add the BOM Excel and Notepad write
        content = "\ufeff".encode(encoding) + content
    frame = imports.read_table(content, "a.csv")
    assert frame.values.tolist() == [["\u00fcber gut", "pos"], ["schlecht", "neg"]]


def test_utf32_is_not_read_as_utf16():
    frame = imports.read_table("text\nhello\n".encode("utf-32"), "a.txt")
    assert frame["text"].tolist() == ["text", "hello"] and frame.attrs["encoding"].startswith("utf_32")


@pytest.mark.parametrize("name,content", [
    ("a.csv", b"text,label\rgood,pos\rbad,neg\r"),
    ("a.txt", b"good\rbad\r"),
    ("a.jsonl", b'{"text": "good", "label": "pos"}\r{"text": "bad", "label": "neg"}\r'),
])
def test_cr_only_line_endings(name, content):
    frame = imports.read_table(content, name)
    assert [t for t in frame["text"].tolist() if t != "text"] == ["good", "bad"]


def test_cr_only_line_length_limit_counts_cr_as_a_line_break():
    content = b"text\r" + b"x" * 600 + b"\r" + b"y" * 600 + b"\r"
    assert len(imports.read_table(content, "a.csv", max_line_bytes=1000)) == 2


def test_lone_surrogates_are_refused_with_a_message(db):
    with pytest.raises(imports.ImportFailed, match="not valid Unicode"):
        create(db, b'[{"text": "broken \\ud800 emoji"}, {"text": "fine"}]', "a.json")
    assert store.projects(db) == []


def test_huge_json_integer_is_read_as_text(db):
    frame = imports.read_table(b'[{"text": "a", "n": ' + b"7" * 5001 + b'}]', "a.json")
    assert frame["n"].iat[0] == "7" * 5001


def test_many_classes_without_shortcuts_and_a_sane_limit(db):
    rows = "".join(f"text {i},class {i}\n" for i in range(40))
    pid, plan = create(db, ("text,label\n" + rows).encode(), "a.csv", label_column="label", classes=None)
    keys = [c["shortcut"] for c in store.classes(db, pid)]
    assert keys[:34] == list(imports.SHORTCUT_KEYS) and keys[34:] == [None] * 6
    # the page's class table hands back NaN for an empty shortcut cell
    plan = imports.plan_import(imports.read_table(("text,label\n" + rows).encode(), "a.csv"), "text", "label")
    details = [{"name": c, "shortcut": float("nan"), "description": ""} for c in plan.classes]
    imports.create_project_from_plan(db, auth.local_actor(), "nan keys", plan, details)
    rows = "".join(f"text {i},class {i}\n" for i in range(1000))
    with pytest.raises(imports.ImportFailed, match="1,000 classes"):
        imports.plan_import(imports.read_table(("text,label\n" + rows).encode(), "a.csv"), "text", "label")


def test_class_names_with_commas(db):
    frame = imports.read_table(b'text,label\na,"billing, refunds"\nb,other\n', "a.csv")
    plan = imports.plan_import(frame, "text", "label")
    assert plan.classes == ["billing, refunds", "other"]
    spec = imports.format_classes(plan.classes)
    assert imports.parse_classes(spec) == plan.classes
    assert imports.parse_classes(["billing, refunds", "other"]) == ["billing, refunds", "other"]
    assert imports.parse_classes("a, b\nc") == ["a", "b", "c"]
    pid = imports.create_project_from_plan(db, auth.local_actor(), "p", imports.plan_import(frame, "text", "label", imports.parse_classes(spec)))
    assert {r["label"] for r in store.current_labels(db, pid)} == {"billing, refunds", "other"}


def test_overlong_label_is_not_a_class(db):
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": ["pos", "neg", "x" * 5000]})
    with pytest.raises(imports.ImportFailed, match="at most 100 characters"):
        imports.plan_import(frame, "text", "label")
    with pytest.raises(imports.ImportFailed, match="at most 100 characters"):
        imports.plan_import(frame.iloc[:2], "text", None, ["pos", "y" * 101])


def test_control_only_texts_are_blank():
    frame = pd.DataFrame({"text": ["\x00\x00", "\x01\x02\x1f", "\u200b\x7f", "real\x00text"]})
    plan = imports.plan_import(frame, "text", None, CLASSES)
    assert plan.texts == ["real\x00text"] and plan.blank == 3


@pytest.mark.parametrize("values,kind", [
    ([b"\x00\x01", b"ab"], "binary"), ([[1, 2], [3]], "list"), ([{"a": 1}, {"a": 2}], "struct"),
])
def test_parquet_non_string_text_or_label_columns_are_refused(db, tmp_path, values, kind):
    path = tmp_path / "a.parquet"
    pd.DataFrame({"text": ["one", "two"], "odd": values}).to_parquet(path)
    frame = imports.read_table(path)
    with pytest.raises(imports.ImportFailed, match=f"column 'odd' holds {kind}"):
        imports.plan_import(frame, "odd", None, CLASSES)
    with pytest.raises(imports.ImportFailed, match=f"column 'odd' holds {kind}"):
        imports.plan_import(frame, "text", "odd", CLASSES)


def test_numbers_are_converted_to_text(tmp_path):
    path = tmp_path / "a.parquet"
    pd.DataFrame({"text": [1, 2, 3], "label": [0, 1, 0]}).to_parquet(path)
    plan = imports.plan_import(imports.read_table(path), "text", "label")
    assert plan.texts == ["1", "2", "3"] and plan.classes == ["0", "1"]


@pytest.mark.parametrize("marker", ["NaN", "NA", "None", "null", "Infinity", "-inf", "n/a", "#N/A", "<NA>", "nan"])
def test_missing_markers_are_missing_labels_not_classes(marker):
    frame = imports.read_table(f"text,label\nNone,pos\nb,neg\nc,{marker}\n".encode(), "a.csv")
    plan = imports.plan_import(frame, "text", "label")
    assert plan.classes == ["neg", "pos"] and plan.labels == ["pos", "neg", None]
    assert plan.texts[0] == "None"  # a text that reads "None" is a fine text
    with pytest.raises(imports.ImportFailed, match="missing value"):
        imports.plan_import(frame, "text", None, ["pos", marker])


def test_json_constants_are_missing_labels():
    frame = imports.read_table(b'[{"text": "a", "label": "pos"}, {"text": "b", "label": NaN}, '
                          b'{"text": "c", "label": Infinity}, {"text": "d", "label": "neg"}]', "a.json")
    plan = imports.plan_import(frame, "text", "label")
    assert plan.classes == ["neg", "pos"] and plan.labels == ["pos", None, None, "neg"]




@pytest.mark.parametrize("content,looks_like_data", [
    (b"text\nfirst text\nsecond text\n", False),
    (b"text,label\nI loved it,pos\nawful,neg\n", False),
    (b"I loved this film and would watch it again.\nTerrible acting.\n", True),  # one long sentence-like "name"
    (b"I loved it,pos\nawful,neg\nfine,pos\n", True),  # 'pos' is a value of its column, not a name
    (b"great product,5\nbad,1\n", True),  # a number is never a column name
    (b"review,stars\ngreat,5\nbad,1\n", False),
    (b"id,text\n1,hello\n2,world\n", False),
])
def test_first_row_looks_like_data(content, looks_like_data):
    assert imports.first_row_looks_like_data(imports.read_table(content, "a.csv")) is looks_like_data


def test_first_row_question_is_only_for_csv_and_tsv():
    assert imports.can_lack_header(imports.read_table(b"a\tb\nc\td\n", "a.tsv"))
    assert not imports.can_lack_header(imports.read_table(b"I loved it\n", "a.txt"))
    assert not imports.first_row_looks_like_data(imports.read_table(b'[{"text": "Ends like a sentence."}]', "a.json"))


def test_read_without_header_names_the_columns():
    frame = imports.read_table(b"I loved it,pos\nawful,neg\n", "a.csv", header=False)
    assert list(frame.columns) == ["column_1", "column_2"]
    assert frame.values.tolist() == [["I loved it", "pos"], ["awful", "neg"]]
    assert imports.read_table(b"only\n", "a.tsv", header=False)["column_1"].tolist() == ["only"]


def test_labeled_count_and_classes_of_a_label_column():
    frame = imports.read_table(b"text,label,other\na,pos,x\nb,,y\nc,neg,z\nc,neg,z\nd,NaN,w\n \t,pos,v\n", "a.csv")
    assert imports.labeled_count(frame, "text", "label") == (2, 4)  # duplicate and blank texts do not arrive
    assert imports.labeled_count(frame, "text", None) == (0, 4)
    assert imports.label_classes(frame, "label") == ["neg", "pos"]
    assert imports.label_classes(frame, None) == []


@pytest.mark.parametrize("classes,message", [
    (["pos", "\ud800"], "not valid Unicode"), (["pos", "\x00"], "blank"), (["pos", "\u200b "], "blank"),
])
def test_typed_class_names_must_be_valid_and_visible(db, classes, message):
    frame = imports.read_table(b"text\na\n", "a.csv")
    with pytest.raises(imports.ImportFailed, match=message):
        imports.plan_import(frame, "text", None, classes)
    assert imports.parse_classes("pos, \x00, \u200b") == ["pos"]


def test_blank_header_cells_get_numbered_names():
    frame = imports.read_table(b"\t\ttext\na\tb\tc\n", "a.tsv")
    assert list(frame.columns) == ["column_1", "column_2", "text"] and frame.values.tolist() == [["a", "b", "c"]]


def test_repeated_or_padded_class_names_in_a_list_are_one_class(db):
    plan = imports.plan_import(imports.read_table(b"text,label\na,good\nb,bad\n", "a.csv"), "text", "label",
                          ["good", " good", "bad", "good "])
    assert plan.classes == ["good", "bad"]
    imports.create_project_from_plan(db, auth.local_actor(), "p", plan)
    assert store.class_names(db, 1) == ["good", "bad"]


def test_parquet_with_repeated_column_names_says_so(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "a.parquet"
    pq.write_table(pa.table([pa.array(["a"]), pa.array(["b"])], names=["text", "text"]), path)
    with pytest.raises(imports.ImportFailed, match="duplicate column names: 'text'"):
        imports.read_table(path)


def test_latin1_files_with_degree_signs_read_right():
    """A new user's Latin-1 file was read as ISO-8859-14 ("n°" became "nḞ"): Windows-1252 wins
    among Latin-script code pages whenever it reads the bytes."""
    rows = [f"Café crème facture n°{i} réglée à moitié,billing" for i in range(30)]
    frame = imports.read_table(("message,category\n" + "\n".join(rows) + "\n").encode("latin-1"), "l1.csv")
    assert frame["message"].tolist()[:2] == ["Café crème facture n°0 réglée à moitié",
                                             "Café crème facture n°1 réglée à moitié"]
    assert frame.attrs["encoding"] == "cp1252"


WIDE_COLUMNS = 20_000  # a hostile file from the trial: the import hung for over a minute


@pytest.mark.parametrize("name", ["wide.csv", "wide.tsv", "wide.json", "wide.jsonl"])
def test_a_file_with_thousands_of_columns_is_refused_within_seconds(name):
    if name.endswith((".csv", ".tsv")):
        sep = "," if name.endswith(".csv") else "\t"
        header = sep.join(f"c{i}" for i in range(WIDE_COLUMNS))
        content = (header + "\n" + sep.join("x" for _ in range(WIDE_COLUMNS)) + "\n").encode()
    else:
        record = json.dumps({f"c{i}": "x" for i in range(WIDE_COLUMNS)})
        content = (record if name.endswith(".jsonl") else f"[{record}]").encode()
    started = time.perf_counter()
    with pytest.raises(imports.ImportFailed, match=f"{WIDE_COLUMNS:,} columns.*at most {imports.MAX_COLUMNS:,}"):
        imports.read_table(content, name)
    assert time.perf_counter() - started < 5


def test_a_csv_row_wider_than_the_header_is_refused_too():
    content = ("text\n" + ",".join("x" for _ in range(WIDE_COLUMNS)) + "\n").encode()
    with pytest.raises(imports.ImportFailed, match="Row 1 .* columns"):
        imports.read_table(content, "ragged.csv")


def test_a_table_of_many_but_fewer_columns_than_the_limit_still_reads():
    header = ",".join(f"c{i}" for i in range(imports.MAX_COLUMNS))
    frame = imports.read_table((header + "\n" + ",".join("x" * 3 for _ in range(imports.MAX_COLUMNS))).encode(), "ok.csv")
    assert frame.shape == (1, imports.MAX_COLUMNS)


@pytest.mark.parametrize("name, content", [
    ("dup.json", b'[{"text": "first", "label": "pos", "text": "second"}]'),
    ("dup.jsonl", b'{"text": "fine"}\n{"text": "first", "text": "second"}\n'),
])
def test_json_records_with_a_key_twice_are_refused_not_read_as_the_last_value(name, content):
    with pytest.raises(imports.ImportFailed, match="key 'text' twice"):
        imports.read_table(content, name)
