"""The single-user loop (issue 20 items 6, 8, 9): counts that agree, words that are grammatical,
a label history where any past label can be changed, and the session's pace."""
import pytest

from core import store
from core.files import imports
from core.labeling import annotate, pace
from core.team import auth
from tests.conftest import make_project

ME = auth.local_actor("me")


def label(db, pid, example_id, name, seconds=2.0):
    return annotate.submit_label(db, ME, pid, annotate.NextText.direct(example_id), name, seconds=seconds)


def test_import_summary_says_one_duplicate_and_one_text():
    plan = imports.ImportPlan(["only"], [None], [{}], ["a", "b"], duplicates=1, blank=1)
    assert plan.summary() == "1 text, 1 duplicate dropped, 1 blank text dropped"
    assert imports.ImportPlan(["a", "b"], [None, None], [{}, {}], ["a", "b"], 2, 0).summary() == \
        "2 texts, 2 duplicates dropped"


def test_counts_are_of_pool_labels_and_none_since_a_model_that_does_not_exist(db):
    pid = make_project(db, [f"text {i}" for i in range(20)], eval_fraction=0.25)
    pool, evals = store.example_ids(db, pid, store.Split.POOL), store.example_ids(db, pid, store.Split.EVAL)
    for example_id in pool[:3]:
        label(db, pid, example_id, "yes")
    label(db, pid, evals[0], "no")
    counts = annotate.progress(db, pid)
    assert counts["labels"] == 3 and counts["eval_labels"] == 1
    assert counts["since_model"] is None  # no model: nothing is "since" it
    done = counts["progress"]
    assert (done.pool_labeled, done.pool, done.eval_labeled, done.eval) == (3, 15, 1, 5)
    assert done.pool_words() == "3 of 15 pool texts labeled (20%)"
    assert done.budget_words() is None


def test_budget_progress_in_words():
    done = pace.Progress(pool_labeled=40, pool=1000, eval_labeled=5, eval=100, budget=150)
    assert done.budget_words() == "45 of a budget of 150 labels: 105 to go"
    assert done.budget_fraction() == pytest.approx(0.3)
    assert "spent" in pace.Progress(150, 1000, 10, 100, 150).budget_words()


def test_label_history_finds_any_past_label_and_a_change_is_appended(db):
    pid = make_project(db, ["the cat sat", "a dog barked", "the cat ran", "birds sing"])
    ids = store.example_ids(db, pid)
    for example_id in ids:
        label(db, pid, example_id, "yes")
    newest_first = store.label_history(db, pid, "me")
    assert [r["example_id"] for r in newest_first] == ids[::-1]
    cats = store.label_history(db, pid, "me", "cat")
    assert {r["text"] for r in cats} == {"the cat sat", "the cat ran"}
    assert store.label_history(db, pid, "me", "%") == []  # LIKE's wildcards are matched literally
    assert store.label_history(db, pid, "someone else") == []

    first = next(r for r in cats if r["text"] == "the cat sat")
    before = len(store.annotations(db, pid))
    annotate.relabel(db, ME, pid, first["example_id"], "no")  # the first label, long past the last undo
    rows = store.annotations(db, pid)
    assert len(rows) == before + 1 and rows[-1]["action"] == store.Action.LABEL  # appended, nothing overwritten
    assert {r["example_id"]: r["label"] for r in store.current_labels(db, pid)}[first["example_id"]] == "no"
    assert store.label_history(db, pid, "me")[0]["label"] == "no"  # now the newest
    assert len(store.label_history(db, pid, "me")) == 4


def test_relabel_is_refused_for_a_text_not_labeled_and_for_an_unknown_class(db):
    pid = make_project(db, ["one", "two"])
    one, two = store.example_ids(db, pid)
    label(db, pid, one, "yes")
    with pytest.raises(annotate.AnnotationError, match="not labeled"):
        annotate.relabel(db, ME, pid, two, "no")
    with pytest.raises(annotate.AnnotationError, match="not a class"):
        annotate.relabel(db, ME, pid, one, "maybe")


def test_session_pace_counts_labels_since_the_last_long_pause(db, monkeypatch):
    pid = make_project(db, [f"text {i}" for i in range(12)])
    ids = store.example_ids(db, pid)
    clock = {"t": 1_000_000.0}
    monkeypatch.setattr("core.store.labels.now", lambda: clock["t"])
    for example_id in ids[:2]:  # an earlier session
        label(db, pid, example_id, "yes")
        clock["t"] += 10
    clock["t"] += 3600  # a long pause
    for example_id in ids[2:12]:  # this session: 10 labels, one every 15 s, each shown 5 s
        label(db, pid, example_id, "no", seconds=5.0)
        clock["t"] += 15
    now = clock["t"] - 15
    session = pace.session_pace(db, pid, "me", now=now)
    assert session.labels == 10
    assert session.seconds_per_label == 5.0
    assert session.labels_per_hour == pytest.approx(10 * 3600 / (9 * 15 + 5))
    assert "10 labels in 2 min" in session.words() and "labels/hour" in session.words()
    assert pace.session_pace(db, pid, "me", now=now + 2 * 3600).labels == 0  # after a long pause: a new session
    assert pace.session_pace(db, pid, "nobody").words() == "No labels yet in this session."


def test_the_session_counts_a_label_that_was_undone_and_given_again_once(db, monkeypatch):
    """New-user trial: label, Undo, label again showed "This session: 2 labels" for one label in effect;
    a skip that was undone and then labeled counted as well as the label. Counted from the store."""
    pid = make_project(db, [f"text {i}" for i in range(6)])
    ids = store.example_ids(db, pid)
    clock = {"t": 1_000_000.0}
    monkeypatch.setattr("core.store.labels.now", lambda: clock["t"])
    label(db, pid, ids[0], "yes")
    clock["t"] += 5
    annotate.undo_last(db, ME, pid)
    clock["t"] += 5
    label(db, pid, ids[0], "no")  # the same text, labeled again: one label in effect
    clock["t"] += 5
    annotate.skip(db, ME, pid, ids[1])
    annotate.undo_last(db, ME, pid)
    label(db, pid, ids[1], "yes")
    clock["t"] += 5
    label(db, pid, ids[2], "yes")
    annotate.undo_last(db, ME, pid)  # undone and not given again: not a label of this session
    session = pace.session_pace(db, pid, "me", now=clock["t"])
    assert session.labels == 2, session
    assert session.words().startswith("2 labels in")


def test_labels_per_hour_waits_for_enough_labels_and_time(db, monkeypatch):
    """New-user trial: "2560 labels/hour" after two labels. The rate shows from MIN_RATE_LABELS labels
    over MIN_RATE_MINUTES minutes on."""
    pid = make_project(db, [f"text {i}" for i in range(30)])
    ids = store.example_ids(db, pid)
    clock = {"t": 1_000_000.0}
    monkeypatch.setattr("core.store.labels.now", lambda: clock["t"])
    for example_id in ids[:2]:
        label(db, pid, example_id, "yes", seconds=1.4)
        clock["t"] += 1.4
    session = pace.session_pace(db, pid, "me", now=clock["t"])
    assert session.labels == 2 and session.labels_per_hour is None
    assert "labels/hour" not in session.words() and "1.4 s per label" in session.words()
    for example_id in ids[2:pace.MIN_RATE_LABELS]:  # enough labels, but within half a minute
        label(db, pid, example_id, "yes", seconds=1.4)
        clock["t"] += 1.4
    assert pace.session_pace(db, pid, "me", now=clock["t"]).labels_per_hour is None
    clock["t"] += pace.MIN_RATE_MINUTES * 60
    label(db, pid, ids[pace.MIN_RATE_LABELS], "yes", seconds=1.4)
    session = pace.session_pace(db, pid, "me", now=clock["t"])
    assert session.labels == pace.MIN_RATE_LABELS + 1 and session.labels_per_hour is not None
    assert "labels/hour" in session.words()
