"""The version registry: pins (who, when, served and exported), and figures from stored probabilities."""
import numpy as np
import pytest

from core import artifacts, store
from core.labeling import annotate
from core.learning import embeddings
from core.team import auth, projects
from core.versions import registry
from tests.conftest import make_project

TEXTS = [f"text number {i}" for i in range(40)]
REGISTRY_PROJECT = {"texts": TEXTS, "name": "reg", "eval_fraction": 0.25}  # make_project(db, **REGISTRY_PROJECT)


def fake_encoder(db, pid):
    ids = np.array(store.example_ids(db, pid), dtype=np.int64)
    directory = artifacts.project_dir(pid) / "encoders" / "enc-fake"
    directory.mkdir(parents=True)
    embeddings.write(directory, ids, np.random.default_rng(0).normal(size=(len(ids), 4)).astype(np.float32))
    np.save(directory / "queue.npy", ids[::-1].copy())
    np.save(directory / "queue_scores.npy", np.zeros(len(ids), np.float32))
    with store.transaction(db) as conn:
        return store.add_encoder(conn, pid, store.NewEncoder("default", str(directory), len(ids), 4, 0.1,
                                                          "sentence-transformers")), ids


def fake_version(db, pid, encoder_id, ids, predicted: np.ndarray, queue: list[int]):
    """A head version whose probabilities predict `predicted` (class ids per encoder row), with its queue."""
    n = len(store.versions(db, pid)) + 1
    directory = artifacts.project_dir(pid) / "versions" / f"v-fake{n}"
    directory.mkdir(parents=True)
    probs = np.full((len(ids), 2), 0.2, np.float32)
    probs[np.arange(len(ids)), predicted] = 0.8
    np.save(directory / "probs.npy", probs)
    np.save(directory / "queue.npy", np.array(queue, np.int64))
    np.save(directory / "queue_scores.npy", np.zeros(len(queue), np.float32))
    with store.transaction(db) as conn:
        return store.publish_version(conn, pid, store.NewVersion(
            store.JobKind.HEAD, encoder_id, str(directory), store.max_annotation_id(db, pid),
            store.label_count(db, pid), {}, {}, {}))


@pytest.fixture
def two_versions(db):
    pid = make_project(db, **REGISTRY_PROJECT)
    encoder_id, ids = fake_encoder(db, pid)
    pool = store.example_ids(db, pid, store.Split.POOL)
    first = fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=pool[:5])
    second_pred = (np.arange(len(ids)) % 2)  # differs from the first on every odd row
    second = fake_version(db, pid, encoder_id, ids, second_pred, queue=pool[-5:])
    return pid, ids, first, second


def test_pin_serves_the_pinned_version_and_records_who_and_when(db, two_versions):
    pid, _, first, second = two_versions
    assert store.current_version(db, pid)["id"] == second
    pinned = registry.pin(db, auth.local_actor("alice"), pid, 1)
    assert pinned["version_id"] == first and pinned["pinned_by"] == "alice" and pinned["created_at"] > 0
    assert store.current_version(db, pid)["id"] == first
    registry.unpin(db, auth.local_actor("bob"), pid)
    assert store.pin(db, pid) is None
    assert store.current_version(db, pid)["id"] == second
    history = store.pin_history(db, pid)
    assert [(h["number"], h["pinned_by"]) for h in history] == [(None, "bob"), (1, "alice")]


def test_a_newer_version_does_not_replace_the_pinned_one(db, two_versions):
    pid, ids, first, _ = two_versions
    registry.pin(db, auth.local_actor("alice"), pid, 1)
    encoder_id = store.latest_encoder(db, pid)["id"]
    fake_version(db, pid, encoder_id, ids, np.ones(len(ids), int), queue=[])
    assert store.current_version(db, pid)["id"] == first


def test_labeling_continues_with_the_pinned_versions_queue(db, two_versions):
    pid, _, first, second = two_versions
    pool = store.example_ids(db, pid, store.Split.POOL)
    assert annotate.next_text(db, auth.local_actor("ann"), pid).example_id == pool[-5]  # the newest version's queue
    registry.pin(db, auth.local_actor("alice"), pid, 1)
    shown = annotate.next_text(db, auth.local_actor("bob"), pid)  # ("ann" is shown her unanswered text again first)
    assert shown.example_id == pool[0] and shown.version_id == first


def test_pin_refuses_unknown_versions_and_nameless_users(db, two_versions):
    pid = two_versions[0]
    with pytest.raises(registry.RegistryError, match="no version 9"):
        registry.pin(db, auth.local_actor("alice"), pid, 9)
    with pytest.raises(registry.RegistryError, match="name"):
        registry.pin(db, auth.Actor("  ", auth.ADMIN), pid, 1)
    assert store.pin(db, pid) is None


def test_per_class_and_confusion_match_scikit_learn():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(1)
    true, predicted = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    predicted[:5] = 0  # class 2 never predicted in some rows: zero_division paths
    rows = registry.per_class(true, predicted, ["a", "b", "c"])
    p, r, f, s = precision_recall_fscore_support(true, predicted, labels=[0, 1, 2], zero_division=0)
    assert np.allclose([x["precision"] for x in rows], p) and np.allclose([x["recall"] for x in rows], r)
    assert np.allclose([x["f1"] for x in rows], f) and [x["support"] for x in rows] == s.tolist()
    assert (registry.confusion_matrix(true, predicted, 3) == confusion_matrix(true, predicted)).all()


def label_eval(db, pid, labels):
    for example_id, label in zip(store.example_ids(db, pid, store.Split.EVAL), labels):
        annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(example_id), label)


def test_eval_breakdown_uses_the_labels_a_version_saw(db, two_versions):
    pid, ids, first, second = two_versions
    eval_ids = store.example_ids(db, pid, store.Split.EVAL)
    label_eval(db, pid, ["yes"] * 3)
    assert registry.eval_breakdown(db, store.version(db, first)).n == 0  # published before those labels
    assert registry.eval_breakdown(db, store.version(db, first), store.max_annotation_id(db, pid)).n == 3
    wrong = registry.wrong_on_eval(db, None, store.version(db, second))
    rows = {int(np.searchsorted(ids, i)) for i in eval_ids[:3]}
    assert {w["example_id"] for w in wrong} == {int(ids[r]) for r in rows if r % 2 == 1}
    assert all(w["label"] == "yes" and w["predicted"] == "no" for w in wrong)


def test_disagreements_between_two_versions_on_the_unlabeled_pool(db, two_versions):
    pid, ids, first, second = two_versions
    pool = store.example_ids(db, pid, store.Split.POOL)
    annotate.submit_label(db, auth.local_actor("ann"), pid, annotate.NextText.direct(pool[1]), "yes")  # labeled texts are left out
    compared, differ, rows = registry.disagreements(db, store.version(db, first), store.version(db, second))
    unlabeled = [i for i in pool if i != pool[1]]
    assert compared == len(unlabeled)
    expected = {i for i in unlabeled if int(np.searchsorted(ids, i)) % 2 == 1}
    assert differ == len(expected) and {r["example_id"] for r in rows} == expected
    assert all(r["version 1"] == "yes" and r["version 2"] == "no" for r in rows)


def test_compare_per_class_on_the_same_eval_texts(db, two_versions):
    pid, _, first, second = two_versions
    label_eval(db, pid, ["yes", "no", "yes", "no", "yes"])
    rows = registry.compare_per_class(db, store.version(db, first), store.version(db, second))
    assert {r["version"] for r in rows} == {"version 1", "version 2"}
    assert all(r["eval texts"] == 5 for r in rows)
    first_yes = next(r for r in rows if r["version"] == "version 1" and r["class"] == "yes")
    assert first_yes["recall"] == 1.0  # version 1 predicts "yes" everywhere


def test_intended_use_is_stored(db):
    pid = make_project(db, **REGISTRY_PROJECT)
    projects.set_intended_use(db, auth.local_actor(), pid, "  Route support tickets.  ")
    assert store.project(db, pid)["intended_use"] == "Route support tickets."


def test_the_model_page_warns_while_eval_figures_rest_on_few_texts(db, two_versions):
    pid, ids, first, second = two_versions
    label_eval(db, pid, ["yes"] * 2)
    breakdown = registry.eval_breakdown(db, store.version(db, second), store.max_annotation_id(db, pid))
    assert breakdown.classes_without_eval_texts() == ["no"]
    assert breakdown.caution() == ("These figures rest on 2 labeled eval texts, covering 1 of 2 classes, so they are "
                                   "rough: the true accuracy may be anywhere in the interval, and the figures will "
                                   "move a lot as more eval texts are labeled. No eval texts yet for: no.")
    assert registry.eval_breakdown(db, store.version(db, first)).caution() is None  # no eval labels: nothing to caution
def test_pin_history_in_words():
    from core.versions import model_report

    history = [{"version_id": None, "number": None, "pinned_by": "bob", "created_at": 86400.0 + 60},
               {"version_id": 7, "number": 2, "pinned_by": "ann", "created_at": 0.0}]
    assert model_report.pin_history_words(history) == (
        "Pins: unpinned by bob at 1970-01-02 00:01; pinned version 2 by ann at 1970-01-01 00:00")
    assert model_report.pin_history_words([]) == ""
