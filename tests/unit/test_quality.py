"""Overlap for agreement, final labels by precedence, agreement figures, export with every annotator's label."""
import json

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from core import store
from core.files import exports
from core.jobs import label_arrays
from core.labeling import annotate
from core.team import auth, quality
from tests.conftest import make_project

ADMIN = auth.local_actor("admin")


CLASSES = ("yes", "no", "maybe")
TEXTS = [f"text number {i}" for i in range(1500)]


def label(db, pid, example_id, who, value):
    return annotate.submit_label(db, auth.local_actor(who), pid, annotate.NextText.direct(example_id), value)


def test_overlap_setting_is_checked():
    from core.settings import ProjectSettings, SettingsError

    assert ProjectSettings().overlap == 0
    for bad in (-1, 101, 2.5, True):
        with pytest.raises(SettingsError, match="overlap"):
            ProjectSettings(overlap=bad)


def test_overlap_share_is_within_five_points_of_the_setting_over_1000_requests(db):
    pid = make_project(db, TEXTS[:1500], CLASSES, actor=ADMIN, overlap=20)
    names = ["alice", "bob"]
    seen: dict[str, list[int]] = {n: [] for n in names}
    for request in range(1000):
        who = names[request % 2]
        shown = annotate.next_text(db, auth.local_actor(who), pid)
        label(db, pid, shown.example_id, who, "yes")
        seen[who].append(shown.example_id)
    for who in names:
        assert len(seen[who]) == len(set(seen[who]))  # nobody labels a text twice
    labels = quality.annotator_labels(db, pid)
    per_text = pd.Series([r["example_id"] for r in labels]).value_counts()
    assert per_text.max() == 2
    double = set(per_text[per_text == 2].index)
    share = len(double) / len(per_text)
    assert abs(share - 0.20) <= 0.05, share
    # The texts labeled twice are exactly those the hash chose, and the choice is random among ids.
    assert all(store.overlap_chosen(pid, i, 20) for i in double)
    waiting = [i for i in set(per_text.index) - double if store.overlap_chosen(pid, i, 20)]
    assert len(waiting) <= 1  # a chosen text goes to the next other annotator at once


def test_without_overlap_a_labeled_text_is_never_given_to_another(db):
    pid = make_project(db, TEXTS[:2], CLASSES, actor=ADMIN)
    first = annotate.next_text(db, auth.local_actor("alice"), pid)
    label(db, pid, first.example_id, "alice", "yes")
    second = annotate.next_text(db, auth.local_actor("bob"), pid)
    assert second.example_id != first.example_id
    with pytest.raises(annotate.TextTaken):
        label(db, pid, first.example_id, "bob", "no")


def test_an_overlap_text_takes_exactly_one_label_from_each_of_two_annotators(db):
    pid = make_project(db, TEXTS[:40], CLASSES, actor=ADMIN, overlap=100)
    example_id = store.example_ids(db, pid)[0]
    label(db, pid, example_id, "alice", "yes")
    shown = annotate.next_text(db, auth.local_actor("bob"), pid)
    assert shown.example_id == example_id and shown.strategy == "second opinion"
    assert "yes" not in json.dumps(shown.__dict__, default=str).replace("text number", "")  # alice's label is not shown
    label(db, pid, example_id, "bob", "no")
    with pytest.raises(annotate.TextTaken):
        label(db, pid, example_id, "carol", "yes")  # a third annotator is refused
    assert annotate.next_text(db, auth.local_actor("carol"), pid).example_id != example_id
    assert annotate.next_text(db, auth.local_actor("alice"), pid).example_id != example_id  # never twice


def test_resolve_precedence():
    assert quality.resolve({"a": "x"}, None) == ("x", quality.SINGLE)
    assert quality.resolve({"a": "x", "b": "x"}, None) == ("x", quality.UNANIMOUS)
    assert quality.resolve({"a": "x", "b": "x", "c": "y"}, None) == ("x", quality.MAJORITY)
    assert quality.resolve({"a": "x", "b": "y"}, None) == (None, quality.DISPUTED)
    decision = {"label": "y", "source": quality.ADJUDICATION}
    assert quality.resolve({"a": "x", "b": "x", "c": "y"}, decision) == ("y", quality.ADJUDICATION)


def test_final_labels_follow_precedence_and_the_model_trains_on_them_only(db):
    pid = make_project(db, TEXTS[:5], CLASSES, actor=ADMIN, overlap=100)
    e = store.example_ids(db, pid)
    label(db, pid, e[0], "alice", "yes")  # single
    label(db, pid, e[1], "alice", "no")   # unanimous
    label(db, pid, e[1], "bob", "no")
    label(db, pid, e[2], "alice", "yes")  # tie: no final label until adjudicated
    label(db, pid, e[2], "bob", "no")
    label(db, pid, e[3], "alice", "yes")  # tie, adjudicated
    label(db, pid, e[3], "bob", "no")
    quality.adjudicate(db, ADMIN, pid, e[3], "maybe", "neither fits")
    label(db, pid, e[4], "alice", "yes")  # single label changed on review
    quality.adjudicate(db, ADMIN, pid, e[4], "no", "model was right", source=quality.REVIEW)
    finals = {f.example_id: f for f in quality.final_labels(db, pid)}
    assert [(finals[i].label, finals[i].source) for i in e] == [
        ("yes", "single"), ("no", "unanimous"), (None, "disputed"), ("maybe", "adjudication"), ("no", "review")]
    assert [f.example_id for f in quality.disagreements(db, pid)] == [e[2]]
    # Training reads final labels: the tie is left out, decisions replace annotators' labels.
    names = store.class_names(db, pid)
    rows = label_arrays.label_rows(db, pid, np.array(e, dtype=np.int64), names)
    got = {e[r]: names[y] for r, y in zip(rows.rows, rows.y)}
    assert got == {e[0]: "yes", e[1]: "no", e[3]: "maybe", e[4]: "no"}
    # The export holds the final label and every annotator's label.
    frame = pd.read_csv(pd.io.common.BytesIO(exports.export_labels(db, ADMIN, pid, "csv")))
    row = frame[frame["example_id"] == e[3]].iloc[0]
    assert row["label"] == "maybe" and row["label_source"] == "adjudication" and row["decided_by"] == "admin"
    assert json.loads(row["annotators"]) == [{"annotator": "alice", "label": "yes"}, {"annotator": "bob", "label": "no"}]
    assert pd.isna(frame[frame["example_id"] == e[2]].iloc[0]["label"])


def test_kappa_and_alpha_match_the_libraries_on_a_known_case(db):
    a = ["yes", "yes", "no", "no", "yes", "no", "yes", "maybe", "no", "yes"]
    b = ["yes", "no", "no", "no", "yes", "no", "yes", "maybe", "yes", "yes"]
    c = ["yes", "yes", "no", "maybe", "yes", "no", "no", "maybe", "no", "yes"]
    pid = make_project(db, TEXTS[:10], CLASSES, actor=ADMIN, overlap=100)
    ids = store.example_ids(db, pid)
    for who, labels in (("a", a), ("b", b)):
        for i, value in zip(ids, labels):
            label(db, pid, i, who, value)
    # A third annotator on the first six texts: with overlap each text takes two, so record theirs directly.
    with store.transaction(db) as conn:
        for i, value in zip(ids[:6], c[:6]):
            store.add_annotation(conn, pid, i, "c", store.Action.LABEL, label=value)
    result = quality.agreement(db, pid)
    classes = ["yes", "no", "maybe"]
    pairs = {(p["a"], p["b"]): p for p in result["pairs"]}
    assert pairs[("a", "b")]["kappa"] == pytest.approx(cohen_kappa_score(a, b))
    # By hand: observed 8/10; expected from the marginals a=(5,4,1), b=(5,4,1): (25+16+1)/100.
    assert pairs[("a", "b")]["kappa"] == pytest.approx((0.8 - 0.42) / (1 - 0.42))
    assert pairs[("a", "c")]["kappa"] == pytest.approx(cohen_kappa_score(a[:6], c[:6]))
    data = np.array([[classes.index(x) for x in a], [classes.index(x) for x in b],
                     [classes.index(x) for x in c[:6]] + [np.nan] * 4])
    assert result["alpha"] == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    yes = np.where(np.isnan(data), np.nan, (data == 0).astype(float))
    assert result["alpha_per_class"]["yes"] == pytest.approx(
        krippendorff.alpha(reliability_data=yes, level_of_measurement="nominal"))
    assert result["texts"] == 10


def test_team_figures(db):
    pid = make_project(db, TEXTS[:4], CLASSES, actor=ADMIN, overlap=100)
    e = store.example_ids(db, pid)
    for i in e[:2]:
        annotate.submit_label(db, auth.local_actor("alice"), pid, annotate.NextText.direct(i), "yes", seconds=4.0)
        annotate.submit_label(db, auth.local_actor("bob"), pid, annotate.NextText.direct(i), "no", seconds=2.0)
    quality.adjudicate(db, ADMIN, pid, e[0], "no")
    figures = {f["annotator"]: f for f in quality.team_figures(db, pid)}
    assert figures["alice"]["labels"] == 2 and figures["alice"]["median_seconds"] == 4.0
    assert figures["alice"]["changed_share"] == 0.5 and figures["bob"]["changed_share"] == 0.0


def test_the_label_offered_first_for_a_disagreement_is_the_majority_or_for_a_tie_the_first_given():
    majority = quality.FinalLabel(1, store.Split.POOL, "no", quality.MAJORITY, {"a": "yes", "b": "no", "c": "no"})
    tie = quality.FinalLabel(2, store.Split.POOL, None, quality.DISPUTED, {"b": "maybe", "a": "yes"})
    assert quality.proposed_label(majority) == "no"
    assert quality.proposed_label(tie) == "maybe"


def test_open_issues_leave_out_labels_a_reviewer_already_decided(db):
    pid = make_project(db)
    ids = store.example_ids(db, pid)
    for example_id in ids:
        label(db, pid, example_id, "alice", "yes")
    reviewer = auth.local_actor("rita")
    quality.adjudicate(db, reviewer, pid, ids[1], "no", "looked again", source=quality.REVIEW)
    analysis = {"issues": [{"example_id": i} for i in ids]}
    assert [issue["example_id"] for issue in quality.open_issues(db, pid, analysis)] == [ids[0], ids[2]]
