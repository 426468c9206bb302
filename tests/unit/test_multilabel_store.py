"""Multi-label projects, store and files (issue 21): the kind, sets, "none of these", import and
export round trips."""
import io
import json

import pandas as pd
import pytest

from core import store
from core.files import exports, imports, multilabel_io
from core.labeling import annotate, multilabel
from core.learning import labelsets
from core.team import auth
from tests.conftest import make_project, multilabel_dataset

CLASSES = ["billing", "bug", "feature"]


def _multi(db, texts=("a", "b", "c", "d"), labels=None, classes=CLASSES, name="m"):
    frame = pd.DataFrame({"text": list(texts)}, dtype=object)
    if labels is not None:
        frame["labels"] = pd.Series(list(labels), dtype=object)
    plan = multilabel_io.plan_import(frame, "text", "labels" if labels is not None else None, classes)
    return multilabel_io.create_project(db, auth.local_actor(), name, plan)


def test_cells_read_as_lists_in_each_spelling():
    assert labelsets.parse_cell("a|b") == ["a", "b"]
    assert labelsets.parse_cell("a; b") == ["a", "b"]
    assert labelsets.parse_cell('["x|y", "b"]') == ["x|y", "b"]
    assert labelsets.parse_cell("[]") == []
    assert labelsets.parse_cell("") is None and labelsets.parse_cell(None) is None
    assert labelsets.parse_cell(["b", "a", "b"]) == ["b", "a"]
    assert labelsets.parse_cell("a|b;c") == ["a", "b;c"]  # one separator per cell, `|` first


def test_kind_is_chosen_at_creation_and_single_stays_single(db):
    single = make_project(db)
    multi = _multi(db)
    assert store.project_kind(db, single) == "single" and store.project_kind(db, multi) == "multi"
    with pytest.raises(store.StoreError):
        with store.transaction(db) as conn:
            store.create_project(conn, "x", [{"name": "a"}, {"name": "b"}], kind="both")
    # keys skip 0, which answers "none of these"
    assert [c["shortcut"] for c in store.classes(db, multi)] == ["1", "2", "3"]


def test_sets_are_append_only_and_none_of_these_is_not_a_skip(db):
    pid = _multi(db)
    actor = auth.local_actor()
    first = annotate.next_text(db, actor, pid)
    multilabel.submit_labels(db, actor, pid, first, ["feature", "bug"])
    second = annotate.next_text(db, actor, pid)
    multilabel.none_of_these(db, actor, pid, second)
    third = annotate.next_text(db, actor, pid)
    annotate.skip(db, actor, pid, third.example_id)
    with pytest.raises(annotate.AnnotationError):
        annotate.submit_label(db, actor, pid, third, "bug")  # a single class is refused
    with pytest.raises(annotate.AnnotationError):
        multilabel.submit_labels(db, actor, pid, third, ["nope"])
    finals = {f.example_id: f.labels for f in multilabel.final_sets(db, pid)}
    assert finals == {first.example_id: ["bug", "feature"], second.example_id: []}
    # undo (of the skip, then the none-of-these) appends; a relabel appends a new set
    annotate.undo_last(db, actor, pid)
    assert annotate.undo_last(db, actor, pid) == second.example_id
    multilabel.submit_labels(db, actor, pid, annotate.NextText.direct(second.example_id), ["billing"])
    finals = {f.example_id: f.labels for f in multilabel.final_sets(db, pid)}
    assert finals[second.example_id] == ["billing"]
    actions = [a["action"] for a in store.annotations(db, pid)]
    assert actions == ["label", "label", "skip", "undo", "undo", "label"]


def test_majority_per_label_with_two_annotators():
    assert multilabel.resolve({"a": ["x", "y"], "b": ["x"]}, ["x", "y"]) == (["x"], multilabel.MAJORITY)
    assert multilabel.resolve({"a": ["y"], "b": ["y"], "c": []}, ["x", "y"]) == (["y"], multilabel.MAJORITY)
    assert multilabel.resolve({"a": []}, ["x", "y"]) == ([], multilabel.SINGLE)


def test_import_refuses_unknown_names_and_keeps_fields(db):
    frame = pd.DataFrame({"text": ["t1", "t2"], "labels": ["billing|oops", ""], "source": ["s1", "s2"]})
    with pytest.raises(imports.ImportFailed, match="oops"):
        multilabel_io.plan_import(frame, "text", "labels", CLASSES)
    plan = multilabel_io.plan_import(frame.assign(labels=["billing|bug", ""]), "text", "labels")
    assert plan.classes == ["billing", "bug"] and plan.labels == ['["billing", "bug"]', None]
    assert plan.metas == [{"source": "s1"}, {"source": "s2"}]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_exported_sets_round_trip_exactly(db, fmt):
    names = ["a|pipe", "semi;colon", "=formula", "text", "plain"]
    sets = [["a|pipe", "plain"], [], ["semi;colon"], ["=formula", "text"], None]
    pid = _multi(db, texts=["one", "two", "three", "=four", "five"], labels=[None if s is None else json.dumps(s)
                                                                             for s in sets], classes=names)
    data = exports.export_labels(db, auth.local_actor(), pid, fmt)
    if fmt == "jsonl":
        back = pd.read_json(io.BytesIO(data), lines=True)
    elif fmt == "parquet":
        back = pd.read_parquet(io.BytesIO(data))
    else:
        back = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
        assert back["class:text"].tolist() == ["0", "0", "0", "1"] and back["plain"].tolist() == ["1", "0", "0", "0"]
    got = {t.lstrip("'"): labelsets.parse_cell(v) for t, v in zip(back["text"], back["labels"])}
    assert got == {"one": ["a|pipe", "plain"], "two": [], "three": ["semi;colon"], "=four": ["=formula", "text"]}
    # and the export imports back as the same sets
    again = multilabel_io.plan_import(back.assign(text=[t.lstrip("'") for t in back["text"]]), "text", "labels", names)
    assert [labelsets.decode(x) for x in again.labels] == list(got.values())


def test_hf_dataset_has_a_sequence_of_class_labels(db):
    pytest.importorskip("datasets")
    from core.files import hf_datasets

    pid = _multi(db, labels=['["bug"]', "billing|feature", "[]", None])
    data = hf_datasets.build(db, pid)["train"]
    feature = data.features["labels"]
    assert feature.feature.names == CLASSES
    assert data["labels"] == [[1], [0, 2], []]


def test_debtags_imports_as_a_multi_label_project(db):
    frame = multilabel_dataset("train", n=300)
    plan = multilabel_io.plan_import(frame, "text", "labels")
    assert len(plan.classes) > 30 and all(x is not None for x in plan.labels)
    pid = multilabel_io.create_project(db, auth.local_actor(), "debtags", plan)
    finals = multilabel.final_sets(db, pid)
    assert len(finals) == len(plan.texts)
    assert sum(len(f.labels) for f in finals) / len(finals) > 1.3


def test_renaming_a_class_of_a_multi_label_project_renames_it_inside_every_set(db):
    """Classes are editable after creation (issue 19 item 13): in a multi-label project a label is a
    set, so the rename must reach the class's place inside each stored set, not only whole labels."""
    from core.team import classes as class_edits

    pid = _multi(db)
    actor = auth.local_actor()
    first = annotate.next_text(db, actor, pid)
    multilabel.submit_labels(db, actor, pid, first, ["feature", "bug"])
    second = annotate.next_text(db, actor, pid)
    multilabel.submit_labels(db, actor, pid, second, ["billing"])
    assert class_edits.rename_class(db, actor, pid, "bug", "defect") == 1
    finals = {f.example_id: f.labels for f in multilabel.final_sets(db, pid)}
    assert finals == {first.example_id: ["defect", "feature"], second.example_id: ["billing"]}
    assert store.class_names(db, pid) == ["billing", "defect", "feature"]


def test_a_comma_or_tab_in_the_labels_column_is_pointed_out():
    """A new user's trial: 'alpha, beta' and 'gamma<TAB>beta' each became one class without a word."""
    import pandas as pd

    from core.files import multilabel_io

    frame = pd.DataFrame({"text": ["one", "two", "three"], "labels": ["alpha, beta", "alpha|gamma", "gamma\tbeta"]})
    hint = multilabel_io.separator_hint(frame, "labels")
    assert hint and "a comma" in hint and "'alpha, beta'" in hint and "|, ;" in hint
    tabbed = multilabel_io.separator_hint(frame.iloc[1:], "labels")
    assert tabbed and "a tab" in tabbed
    assert multilabel_io.separator_hint(frame.iloc[1:2], "labels") is None
    assert multilabel_io.separator_hint(frame, None) is None
