"""Multi-label label quality (issue 21): agreement per label and over sets on hand-made sets whose
alpha and kappa were worked out by hand (coincidence matrices; kappa = (po - pe) / (1 - pe)), and
adjudication per label in the store: conflicts, decisions, final sets, refusals."""
import json

import pandas as pd
import pytest

from core import store
from core.files import multilabel_io
from core.labeling import annotate, multilabel
from core.team import auth, multilabel_quality as mlq, projects, quality

CLASSES = ["x", "y", "z"]
# Three annotators, four texts; b did not label T4, c did not label T2.
VOTES = [
    {"a": ["x"], "b": ["x"], "c": ["x", "y"]},  # T1
    {"a": ["y"], "b": ["y", "z"]},  # T2
    {"a": [], "b": ["z"], "c": []},  # T3
    {"a": ["x", "z"], "c": ["x", "z"]},  # T4
]


def test_masi_distance():
    assert mlq.masi_distance(["x"], ["x"]) == 0
    assert mlq.masi_distance([], []) == 0  # both "none of these"
    assert mlq.masi_distance(["x"], ["x", "y"]) == pytest.approx(1 - 1 / 2 * 2 / 3)  # subset
    assert mlq.masi_distance(["x", "y"], ["y", "z"]) == pytest.approx(1 - 1 / 3 * 1 / 3)  # overlap
    assert mlq.masi_distance(["x"], ["y"]) == 1 and mlq.masi_distance([], ["z"]) == 1


def test_alpha_and_kappa_per_label_and_overall_on_hand_made_sets():
    out = mlq.agreement_of(VOTES, CLASSES)
    per = {r["label"]: r for r in out["labels"]}
    # x: every pair agrees on every text: alpha 1, kappa 1 for each pair.
    assert per["x"]["alpha"] == pytest.approx(1.0) and per["x"]["kappa"] == pytest.approx(1.0)
    # y: o00=6, o01=o10=1, o11=2, n0=7, n1=3, n=10: alpha = 1 - 9*2/(2*7*3) = 4/7;
    # kappa (a,b) 1, (a,c) 0, (b,c) 0: mean 1/3.
    assert per["y"]["alpha"] == pytest.approx(4 / 7) and per["y"]["kappa"] == pytest.approx(1 / 3)
    # z: o00=4, o01=o10=2, o11=2, n0=6, n1=4: alpha = 1 - 9*4/(2*6*4) = 1/4; kappa (a,b) 0, (a,c) 1, (b,c) 0.
    assert per["z"]["alpha"] == pytest.approx(0.25) and per["z"]["kappa"] == pytest.approx(1 / 3)
    assert (per["y"]["given"], per["y"]["answers"]) == (3, 10)
    assert out["mean_alpha"] == pytest.approx((1 + 4 / 7 + 1 / 4) / 3)
    assert out["mean_kappa"] == pytest.approx(5 / 9)
    # Sets with MASI: D_o = (4/3 + 4/3 + 2 + 0) / 10, D_e = (680/9) / 90: alpha = 151/340.
    assert out["alpha_masi"] == pytest.approx(151 / 340) and out["alpha"] == out["alpha_masi"]
    pairs = {(p["a"], p["b"]): p for p in out["pairs"]}
    assert {k: p["texts"] for k, p in pairs.items()} == {("a", "b"): 3, ("a", "c"): 3, ("b", "c"): 2}
    assert pairs[("a", "b")]["agreement"] == pytest.approx(1 / 3) and pairs[("b", "c")]["agreement"] == 0
    assert pairs[("a", "b")]["kappa"] == pytest.approx(2 / 3)  # mean over labels x 1, y 1, z 0
    assert pairs[("b", "c")]["kappa"] == pytest.approx(1 / 3)  # x 1, y 0, z 0
    assert out["texts"] == 4 and out["annotators"] == ["a", "b", "c"]


def test_undefined_figures_are_none_not_nan():
    # Everyone gives x on every text and nobody gives y: nothing varies, so neither has an alpha or kappa.
    out = mlq.agreement_of([{"a": ["x"], "b": ["x"]}, {"a": ["x"], "b": ["x"]}], ["x", "y"])
    assert [(r["alpha"], r["kappa"]) for r in out["labels"]] == [(None, None), (None, None)]
    assert out["mean_alpha"] is None and out["alpha_masi"] is None
    assert mlq.agreement_of([{"a": ["x"]}], ["x"])["texts"] == 0  # one annotator: no agreement to measure
    json.dumps(out)  # stored as a job result


# ---------------------------------------------------------------- adjudication in the store


def _project(db, n=4):
    frame = pd.DataFrame({"text": [f"text {i}" for i in range(n)]})
    plan = multilabel_io.plan_import(frame, "text", None, CLASSES)
    pid = multilabel_io.create_project(db, auth.local_actor(), "m", plan)
    projects.update_settings(db, auth.local_actor(), pid, {"overlap": 100})
    return pid


def _label(db, pid, example_id, who, labels):
    """A set from `who`. Overlap gives a text to two annotators; a third (as after an import of
    several people's labels) is written to the store directly."""
    if len(store.label_holders(db.conn, pid, example_id) - {who}) < 2:
        multilabel.submit_labels(db, auth.local_actor(who), pid, annotate.NextText.direct(example_id), labels)
        return
    with store.transaction(db) as conn:
        store.add_annotation(conn, pid, example_id, who, store.Action.LABEL, label=json.dumps(labels))


def _finals(db, pid):
    return {f.example_id: (f.labels, f.source) for f in multilabel.final_sets(db, pid)}


def test_conflicts_name_each_disputed_label_and_who_gave_what(db):
    pid = _project(db)
    e1, e2, e3, e4 = store.example_ids(db, pid, store.Split.POOL)[:4]
    for who, labels in (("ann1", ["x", "y"]), ("ann2", ["x"]), ("ann3", ["x", "z"])):
        _label(db, pid, e1, who, labels)
    _label(db, pid, e2, "ann1", ["y"])
    _label(db, pid, e2, "ann2", ["y"])  # agreed: no conflict
    _label(db, pid, e3, "ann1", ["z"])
    _label(db, pid, e3, "ann2", [])  # a tie on z
    _label(db, pid, e4, "ann1", ["x"])  # one annotator: no conflict
    found = mlq.conflicts(db, pid)
    assert [c.example_id for c in found] == [e3, e1]  # ties first
    tie, three = found
    assert [(c.label, c.given_by, c.left_out_by, c.majority) for c in tie.labels] == [("z", ["ann1"], ["ann2"], None)]
    assert [(c.label, c.given_by, c.left_out_by, c.majority) for c in three.labels] == [
        ("y", ["ann1"], ["ann2", "ann3"], 0), ("z", ["ann3"], ["ann1", "ann2"], 0)]
    assert three.final == ["x"] and tie.final == []
    # an annotator sees no conflicts (they label blind)
    ada = auth.create_user(db, None, "ada", "correct horse battery", auth.ADMIN)
    annotator = auth.create_user(db, ada, "ann9", "correct horse battery", auth.ANNOTATOR)
    assert mlq.conflicts(db, pid, annotator) == [] and mlq.report(db, pid, annotator) is None


def test_decisions_per_label_make_the_final_set_and_keep_earlier_decisions(db):
    pid = _project(db)
    e1, e3 = store.example_ids(db, pid, store.Split.POOL)[:2]
    for who, labels in (("ann1", ["x", "y"]), ("ann2", ["x"]), ("ann3", ["x", "z"])):
        _label(db, pid, e1, who, labels)
    _label(db, pid, e3, "ann1", ["z"])
    _label(db, pid, e3, "ann2", [])
    rev = auth.local_actor("rev")
    mlq.adjudicate_labels(db, rev, pid, e1, {"y": True}, "y is right")  # against the majority
    assert _finals(db, pid)[e1] == (["x", "y"], multilabel.DECIDED)
    assert [c.label for c in mlq.conflicts(db, pid, decided_too=True)[1].open] == ["z"]
    mlq.adjudicate_labels(db, rev, pid, e1, {"z": 0})  # a second decision keeps the first
    assert _finals(db, pid)[e1] == (["x", "y"], multilabel.DECIDED)
    assert [c.example_id for c in mlq.conflicts(db, pid)] == [e3]  # e1 is settled
    mlq.accept_majority(db, rev, pid, e3)  # a tie: out, as the final set has it
    assert _finals(db, pid)[e3] == ([], multilabel.DECIDED)
    assert mlq.conflicts(db, pid) == []
    # append-only: every decision is a row, each holding all labels decided so far
    rows = db.conn.execute("SELECT example_id, label, previous, reviewer FROM adjudications ORDER BY id").fetchall()
    assert [(r[0], json.loads(r[1])) for r in rows] == [(e1, {"y": 1}), (e1, {"y": 1, "z": 0}), (e3, {"z": 0})]
    assert rows[0][2] == '["x"]' and rows[1][2] == '["x", "y"]' and {r[3] for r in rows} == {"rev"}
    [fs] = [f for f in multilabel.final_sets(db, pid) if f.example_id == e1]
    assert fs.decided == {"y": 1, "z": 0} and fs.decided_by == "rev"
    # a relabel after the decision does not undo it: the decided labels hold, the rest follow the majority
    _label(db, pid, e1, "ann2", [])
    assert _finals(db, pid)[e1] == (["x", "y"], multilabel.DECIDED)
    figures = {r["annotator"]: r["changed_share"] for r in quality.team_figures(db, pid)}
    assert figures == {"ann1": 0.5, "ann2": 0.5, "ann3": 1.0}  # ann1: e1 unchanged (y in), e3 z out


def test_a_single_label_style_decision_on_a_multi_label_project_is_refused_and_breaks_nothing(db):
    """Before: `quality.adjudicate` stored one class name as the decision, and final sets (the model's
    labels, the export) then failed with a JSONDecodeError."""
    pid = _project(db)
    e1 = store.example_ids(db, pid, store.Split.POOL)[0]
    _label(db, pid, e1, "ann1", ["x", "y"])
    _label(db, pid, e1, "ann2", ["x"])
    with pytest.raises(store.StoreError, match="multi-label: decide each disputed label"):
        quality.adjudicate(db, auth.local_actor("rev"), pid, e1, "x")
    assert db.conn.execute("SELECT count(*) FROM adjudications").fetchone()[0] == 0
    # such a row from before the refusal leaves the annotators' majority in place
    with store.transaction(db) as conn:
        store.add_decision(conn, pid, e1, "x", "rev", quality.ADJUDICATION, None, "")
    assert _finals(db, pid)[e1] == (["x"], multilabel.MAJORITY)
    assert [c.label for c in mlq.conflicts(db, pid)[0].open] == ["y"]
    # a whole set (a JSON list) decides every label
    assert multilabel.decode_decision('["y"]', CLASSES) == {"x": 0, "y": 1, "z": 0}
    assert multilabel.decode_decision('"x"', CLASSES) is None and multilabel.decode_decision("x", CLASSES) is None


def test_adjudication_per_label_checks_roles_kind_and_values(db):
    pid = _project(db)
    e1, e2 = store.example_ids(db, pid, store.Split.POOL)[:2]
    _label(db, pid, e1, "ann1", ["x"])
    _label(db, pid, e1, "ann2", [])
    with pytest.raises(store.StoreError, match="Not classes"):
        mlq.adjudicate_labels(db, auth.local_actor(), pid, e1, {"nope": 1})
    with pytest.raises(store.StoreError, match="in \\(1\\) or out \\(0\\)"):
        mlq.adjudicate_labels(db, auth.local_actor(), pid, e1, {"x": 2})
    with pytest.raises(store.StoreError, match="no labels yet"):
        mlq.adjudicate_labels(db, auth.local_actor(), pid, e2, {"x": 1})
    with pytest.raises(store.StoreError, match="no disputed label"):
        mlq.accept_majority(db, auth.local_actor(), pid, e2)
    from tests.conftest import make_project
    single = make_project(db)
    with pytest.raises(store.StoreError, match="single-label"):
        mlq.adjudicate_labels(db, auth.local_actor(), single, store.example_ids(db, single, store.Split.POOL)[0],
                              {"yes": 1})
    ada = auth.create_user(db, None, "ada", "correct horse battery", auth.ADMIN)
    annotator = auth.create_user(db, ada, "ann9", "correct horse battery", auth.ANNOTATOR)
    auth.assign(db, ada, annotator.user_id, pid)
    with pytest.raises(auth.AuthError):
        mlq.adjudicate_labels(db, annotator, pid, e1, {"x": 1})
    assert db.conn.execute("SELECT count(*) FROM adjudications").fetchone()[0] == 0
