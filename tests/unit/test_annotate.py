"""The annotator's side (core.labeling.annotate): why a text is shown, in its own plain words; labels,
skips, undo and leases between annotators; lock errors as a try-again message."""
import sqlite3
import threading

import pytest

from core import store
from core.labeling import annotate
from core.learning import strategies
from core.team import auth
from tests.conftest import make_project
from tests.unit.test_store import lease_rows

FALLBACK = "Chosen by the model's query strategy."
MODEL_PAGE = {
    "model got it wrong on the eval sample": "got this eval text wrong",
    "the last two versions disagree": "versions disagree",
}


def words(why: str) -> str:
    return annotate.describe(annotate.NextText(1, "a text", {}, store.Split.POOL, why, 0.5, None))[0]


@pytest.mark.parametrize("name", sorted(strategies.STRATEGIES))
def test_every_strategy_has_its_own_words(name):
    assert words(name) != FALLBACK
    others = {words(other) for other in strategies.STRATEGIES if other != name}
    assert words(name) not in others, f"{name} shares its words with another strategy"


def test_the_model_pages_entry_points_have_their_own_words():
    assert annotate.FROM_EVAL_MISTAKE in MODEL_PAGE and annotate.FROM_VERSION_DISAGREEMENT in MODEL_PAGE
    for why, phrase in MODEL_PAGE.items():
        assert phrase in words(why) and words(why) != FALLBACK
    every = set(strategies.STRATEGIES) | set(MODEL_PAGE) | {"cold start: kmeans", "keyword search", "undo"}
    assert len({words(why) for why in every}) == len(every)


def test_a_text_opened_from_the_model_page_says_why(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[1]
    for why, phrase in MODEL_PAGE.items():
        shown = annotate.show_example(db, auth.local_actor("ann"), pid, example_id, why)
        plain, detail = annotate.describe(shown)
        assert phrase in plain and plain != FALLBACK


def test_annotations_append_only_undo_and_relabel(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    first = annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), "yes")
    annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), "no")  # relabel
    assert [r["label"] for r in store.current_labels(db, pid)] == ["no"]
    assert annotate.undo_last(db, auth.local_actor("ann"), pid) == example_id  # undo the relabel: back to "yes"
    assert [r["label"] for r in store.current_labels(db, pid)] == ["yes"]
    assert annotate.undo_last(db, auth.local_actor("ann"), pid) == example_id
    assert store.current_labels(db, pid) == []
    rows = store.annotations(db, pid)
    assert [r["action"] for r in rows] == ["label", "label", "undo", "undo"]
    assert rows[0]["id"] == first and rows[0]["label"] == "yes"  # never overwritten


def test_label_for_unknown_class_or_foreign_text_is_refused(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    with pytest.raises(annotate.AnnotationError, match="not a class"):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), "maybe")
    with pytest.raises(annotate.AnnotationError, match="not part of this project"):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(10_000), "yes")
    assert store.annotations(db, pid) == []


def test_leases_keep_two_annotators_apart(db):
    pid = make_project(db)
    first = annotate.next_text(db, auth.local_actor("alice"), pid)
    second = annotate.next_text(db, auth.local_actor("bob"), pid)
    assert first.example_id != second.example_id
    assert annotate.next_text(db, auth.local_actor("alice"), pid).example_id == first.example_id  # her own lease stays hers


def test_next_text_claims_atomically_when_another_annotator_claims_in_between(db, monkeypatch):
    """Bob claims a text after Alice's next_text started but before its transaction: they must still differ."""
    pid = make_project(db)
    real_transaction = store.transaction
    bob_got = []

    def bob_claims_first(conn_db):
        if not bob_got:
            bob_got.append(None)
            worker = threading.Thread(target=lambda: bob_got.append(annotate.next_text(store.connect(), auth.local_actor("bob"), pid)))
            worker.start()
            worker.join()
        return real_transaction(conn_db)

    monkeypatch.setattr(store, "transaction", bob_claims_first)
    alice = annotate.next_text(db, auth.local_actor("alice"), pid)
    bob = bob_got[1]
    assert alice.example_id != bob.example_id
    assert lease_rows(db, pid) == {alice.example_id: "alice", bob.example_id: "bob"}


def test_label_refused_when_someone_else_labeled_the_text(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    first = annotate.submit_label(db, auth.local_actor("alice"), pid, annotate.NextText.direct(example_id), "yes")
    with pytest.raises(annotate.AnnotationError, match="Someone else labeled this text"):
        annotate.submit_label(db, auth.local_actor("bob"), pid, annotate.NextText.direct(example_id), "no")
    with pytest.raises(annotate.AnnotationError, match="Someone else labeled this text"):
        annotate.skip(db, auth.local_actor("bob"), pid, example_id)
    assert [(r["annotator"], r["label"], r["annotation_id"]) for r in store.current_labels(db, pid)] == \
        [("alice", "yes", first)]
    assert len(store.annotations(db, pid)) == 1


def test_label_refused_while_another_annotator_holds_the_lease(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    with pytest.raises(annotate.AnnotationError, match="Someone else"):
        annotate.submit_label(db, auth.local_actor("bob"), pid, shown, "no")
    with pytest.raises(annotate.AnnotationError, match="Someone else"):
        annotate.skip(db, auth.local_actor("bob"), pid, shown.example_id)
    assert store.annotations(db, pid) == []
    annotate.submit_label(db, auth.local_actor("alice"), pid, shown, "yes")  # the lease holder may label it
    assert [r["annotator"] for r in store.current_labels(db, pid)] == ["alice"]


def test_label_allowed_after_the_other_lease_expired(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    db.conn.execute("UPDATE leases SET expires_at = ?", (store.now() - 1,))
    annotate.submit_label(db, auth.local_actor("bob"), pid, shown, "no")
    with pytest.raises(annotate.AnnotationError, match="Someone else labeled this text"):
        annotate.submit_label(db, auth.local_actor("alice"), pid, shown, "yes")  # too late: bob's label stands
    assert [(r["annotator"], r["label"]) for r in store.current_labels(db, pid)] == [("bob", "no")]


def test_undo_releases_the_text_back_to_its_annotator_only(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    annotate.submit_label(db, auth.local_actor("alice"), pid, shown, "yes")
    again = annotate.undo_and_show(db, auth.local_actor("alice"), pid)
    assert again.example_id == shown.example_id and again.text == shown.text and again.strategy == "undo"
    assert lease_rows(db, pid)[shown.example_id] == "alice"  # leased in the undo's own transaction
    assert annotate.next_text(db, auth.local_actor("bob"), pid).example_id != shown.example_id
    annotate.submit_label(db, auth.local_actor("alice"), pid, shown, "no")  # alice labels it again
    assert [(r["annotator"], r["label"]) for r in store.current_labels(db, pid)] == [("alice", "no")]


def test_undo_last_leases_the_text_in_the_same_transaction(db):
    pid = make_project(db)
    example_id = store.example_ids(db, pid)[0]
    annotate.submit_label(db, auth.local_actor("alice"), pid, annotate.NextText.direct(example_id), "yes")
    assert annotate.undo_last(db, auth.local_actor("alice"), pid) == example_id
    assert lease_rows(db, pid) == {example_id: "alice"}


def test_undo_of_a_skip_is_refused_while_someone_else_reads_the_text(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    annotate.skip(db, auth.local_actor("alice"), pid, shown.example_id)
    db.conn.execute("DELETE FROM leases")
    with store.transaction(db) as conn:
        store.lease(conn, pid, shown.example_id, "bob", 600)
    with pytest.raises(annotate.AnnotationError, match="Someone else"):
        annotate.undo_and_show(db, auth.local_actor("alice"), pid)
    assert [r["action"] for r in store.annotations(db, pid)] == ["skip"]  # nothing undone
    assert lease_rows(db, pid) == {shown.example_id: "bob"}


def test_show_example_refuses_a_text_someone_else_is_reading(db):
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    with pytest.raises(annotate.AnnotationError, match="Someone else"):
        annotate.show_example(db, auth.local_actor("bob"), pid, shown.example_id, "keyword search")
    assert lease_rows(db, pid) == {shown.example_id: "alice"}


def test_skipped_texts_come_back_after_the_rest_oldest_skip_first(db):
    pid = make_project(db)
    order = []
    for _ in range(3):
        shown = annotate.next_text(db, auth.local_actor("alice"), pid)
        order.append(shown.example_id)
        annotate.skip(db, auth.local_actor("alice"), pid, shown.example_id)
    assert len(set(order)) == 3  # unskipped texts first
    again = annotate.next_text(db, auth.local_actor("alice"), pid)
    assert again is not None and again.example_id == order[0]
    annotate.skip(db, auth.local_actor("alice"), pid, again.example_id)  # skipped again: it goes to the back
    assert annotate.next_text(db, auth.local_actor("alice"), pid).example_id == order[1]
    annotate.submit_label(db, auth.local_actor("alice"), pid, annotate.NextText.direct(order[1]), "yes")
    assert annotate.next_text(db, auth.local_actor("alice"), pid).example_id == order[2]
    annotate.submit_label(db, auth.local_actor("alice"), pid, annotate.NextText.direct(order[2]), "yes")
    assert annotate.next_text(db, auth.local_actor("alice"), pid).example_id == order[0]
    annotate.submit_label(db, auth.local_actor("alice"), pid, annotate.NextText.direct(order[0]), "no")
    assert annotate.next_text(db, auth.local_actor("alice"), pid) is None


def test_skipped_texts_of_one_annotator_are_offered_to_others_first(db):
    pid = make_project(db, texts=("only text",))
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    annotate.skip(db, auth.local_actor("alice"), pid, shown.example_id)
    assert annotate.next_text(db, auth.local_actor("bob"), pid).example_id == shown.example_id
    assert annotate.next_text(db, auth.local_actor("alice"), pid) is None  # bob is reading it now


def test_lock_errors_reach_the_caller_as_a_try_again_message(data_dir, monkeypatch):
    monkeypatch.setattr(store.db, "BUSY_TIMEOUT_MS", 50)
    db = store.connect()
    pid = make_project(db)
    shown = annotate.next_text(db, auth.local_actor("alice"), pid)
    annotate.submit_label(db, auth.local_actor("alice"), pid, shown, "yes")
    other = sqlite3.connect(str(data_dir / "sieve.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # someone outside Sieve's own transactions holds the write lock
    try:
        for call in (lambda: annotate.next_text(db, auth.local_actor("alice"), pid),
                     lambda: annotate.submit_label(db, auth.local_actor("alice"), pid, shown, "no"),
                     lambda: annotate.skip(db, auth.local_actor("alice"), pid, shown.example_id),
                     lambda: annotate.undo_last(db, auth.local_actor("alice"), pid),
                     lambda: annotate.show_example(db, auth.local_actor("alice"), pid, shown.example_id, "search")):
            with pytest.raises(annotate.AnnotationError, match="try again"):
                call()
    finally:
        other.execute("ROLLBACK")
    assert annotate.undo_last(db, auth.local_actor("alice"), pid) == shown.example_id  # and it works again once the lock is free


def test_a_label_records_why_the_shown_text_was_shown_and_the_version_it_came_with(db):
    import numpy as np

    from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version

    pid = make_project(db, **REGISTRY_PROJECT)
    encoder_id, ids = fake_encoder(db, pid)
    pool = store.example_ids(db, pid, store.Split.POOL)
    version_id = fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=pool[3:6])
    shown = annotate.next_text(db, auth.local_actor("ann"), pid)
    assert shown.example_id == pool[3] and shown.version_id == version_id and shown.score == 0.0
    annotate.submit_label(db, auth.local_actor("ann"), pid, shown, "yes", seconds=2.5)
    direct = annotate.NextText.direct(pool[0])
    annotate.submit_label(db, auth.local_actor("ann"), pid, direct, "no")
    rows = {r[0]: r[1:] for r in db.conn.execute(
        "SELECT example_id, strategy, score, model_version_id, seconds FROM annotations WHERE project_id = ?", (pid,))}
    assert rows[pool[3]] == (shown.strategy, 0.0, version_id, 2.5) and shown.strategy
    assert rows[pool[0]] == (None, None, None, None)  # labeled by id: nothing chose it


def test_the_served_versions_view_of_any_text(db):
    import numpy as np

    from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version

    pid = make_project(db, **REGISTRY_PROJECT)
    example_id = store.example_ids(db, pid)[0]
    assert annotate.suggestion(db, pid, example_id) is None  # no model yet
    encoder_id, ids = fake_encoder(db, pid)
    fake_version(db, pid, encoder_id, ids, np.ones(len(ids), int), queue=[])
    label, confidence = annotate.suggestion(db, pid, example_id)
    assert label == "no" and confidence == pytest.approx(0.8)
