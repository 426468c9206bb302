"""Classes and guidelines changed after creation (issue 19, item 13): admins only, audited; a rename
carries every label, decision, export and trained model along (a class's position is its id)."""
import json

import numpy as np
import pytest

from core import store
from core.files import exports, model_export, predict
from core.labeling import annotate
from core.settings import ProjectSettings
from core.team import auth, classes, quality
from tests.conftest import make_project, run_queued
from tests.unit.test_registry import fake_encoder

PASSWORD = "umbrella-quartz-71"
TEXTS = [f"text number {i}" for i in range(12)]


@pytest.fixture
def labeled(db):
    """A project labeled yes/no by an annotator, with a decision, in team mode."""
    settings = ProjectSettings().with_changes({"head": {**ProjectSettings().head.to_dict(), "class_names": False}})
    pid = make_project(db, TEXTS, name="cls", settings=settings)
    ada = auth.create_user(db, None, "ada", PASSWORD, auth.ADMIN)
    ann = auth.create_user(db, ada, "ann", PASSWORD, auth.ANNOTATOR)
    auth.assign(db, ada, ann.user_id, pid)
    ids = store.example_ids(db, pid)
    for i, example_id in enumerate(ids):
        annotate.submit_label(db, ann, pid, annotate.NextText.direct(example_id), "yes" if i % 2 else "no")
    quality.adjudicate(db, ada, pid, ids[0], "yes", "checked")  # previous "no"
    return pid, ada, ann, ids


def test_only_admins_change_classes_and_guidelines(db, labeled):
    pid, ada, ann, _ = labeled
    rev = auth.create_user(db, ada, "rev", PASSWORD, auth.REVIEWER)
    for who in (ann, rev):
        with pytest.raises(auth.Forbidden):
            classes.add_class(db, who, pid, "maybe")
        with pytest.raises(auth.Forbidden):
            classes.rename_class(db, who, pid, "yes", "ja")
        with pytest.raises(auth.Forbidden):
            classes.describe_class(db, who, pid, "yes", "agrees")
        with pytest.raises(auth.Forbidden):
            classes.set_guidelines(db, who, pid, "label carefully")
    assert store.class_names(db, pid) == ["yes", "no"]


def test_a_class_is_added_last_with_the_next_free_key_and_described(db, labeled):
    pid, ada, _, _ = labeled
    classes.add_class(db, ada, pid, "  maybe ", "neither yes nor no")
    classes.describe_class(db, ada, pid, "yes", "agrees")
    rows = store.classes(db, pid)
    assert [(c["name"], c["shortcut"], c["position"]) for c in rows] == [("yes", "1", 0), ("no", "2", 1), ("maybe", "3", 2)]
    assert rows[0]["description"] == "agrees" and rows[2]["description"] == "neither yes nor no"
    with pytest.raises(store.StoreError):
        classes.add_class(db, ada, pid, "no")
    with pytest.raises(store.StoreError):
        classes.add_class(db, ada, pid, "   ")
    assert [r["action"] for r in auth.audit_log(db)][:2] == ["describe class", "add class"]


def test_renaming_a_class_renames_its_labels_decisions_and_exports(db, labeled):
    pid, ada, ann, ids = labeled
    n_no = sum(1 for r in store.annotations(db, pid) if r["label"] == "no")
    assert classes.rename_class(db, ada, pid, "no", "nope") == n_no
    assert store.class_names(db, pid) == ["yes", "nope"]
    assert {r["label"] for r in store.current_labels(db, pid)} == {"yes", "nope"}
    decision = quality.decisions(db, pid)[ids[0]]
    assert (decision["label"], decision["previous"]) == ("yes", "nope")
    frame = exports.labels_frame(db, pid)
    assert set(frame["label"]) == {"yes", "nope"}
    annotate.submit_label(db, ann, pid, annotate.NextText.direct(ids[1]), "nope")  # the new name labels
    with pytest.raises(annotate.AnnotationError):
        annotate.submit_label(db, ann, pid, annotate.NextText.direct(ids[1]), "no")
    with pytest.raises(store.StoreError):
        classes.rename_class(db, ada, pid, "nope", "yes")  # taken
    [row] = [r for r in auth.audit_log(db) if r["action"] == "rename class"]
    assert row["actor"] == "ada" and row["detail"] == {"old": "no", "new": "nope", "labels": n_no}


def test_a_model_trained_before_a_rename_or_an_added_class_keeps_meaning_its_classes(db, labeled):
    """A trained head holds its classes by position; after a rename its export and its predictions carry
    the new name at the same position, and a class added later gets a zero column, not another's."""
    pid, ada, _, ids = labeled
    fake_encoder(db, pid)  # stands in for the embedding: the queued embed job is done by it
    with store.transaction(db) as conn:
        for job in store.active_jobs(db, pid):
            if job["kind"] == store.JobKind.EMBED:
                store.finish_job(conn, job["id"], message="embedded (fake encoder)")
    run_queued(db, (store.JobKind.HEAD,))
    version = store.current_version(db, pid)
    assert json.loads((model_export.Path(version["path"]) / "classes.json").read_text()) == ["yes", "no"]
    probs = np.asarray(np.load(model_export.Path(version["path"]) / "probs.npy"))
    classes.rename_class(db, ada, pid, "yes", "agree")
    classes.add_class(db, ada, pid, "unsure")
    assert model_export.class_names(db, version) == ["agree", "no"]
    frame = predict.predictions_frame(["a", "b"], probs[:2], store.class_names(db, pid))
    assert list(frame.columns) == ["text", "predicted", "confidence", "p(agree)", "p(no)", "p(unsure)"]
    assert list(frame["p(agree)"]) == pytest.approx(probs[:2, 0]) and list(frame["p(unsure)"]) == [0, 0]
    assert set(frame["predicted"]) <= {"agree", "no"}
    # The exported directory's own label lists (a transformer's config, SetFit's, Sieve's head) follow too.
    out = model_export.Path(version["path"]).parent / "export-probe"
    (out / "sieve_head").mkdir(parents=True)
    (out / "config.json").write_text(json.dumps({"id2label": {"0": "yes", "1": "no"}, "label2id": {"yes": 0, "no": 1}}))
    (out / "config_setfit.json").write_text(json.dumps({"labels": ["yes", "no"], "normalize_embeddings": False}))
    (out / "sieve_head" / "classes.json").write_text(json.dumps(["yes", "no"]))
    model_export.relabel(out, model_export.class_names(db, version))
    assert json.loads((out / "config.json").read_text())["id2label"] == {"0": "agree", "1": "no"}
    assert json.loads((out / "config.json").read_text())["label2id"] == {"agree": 0, "no": 1}
    assert json.loads((out / "config_setfit.json").read_text())["labels"] == ["agree", "no"]
    assert json.loads((out / "sieve_head" / "classes.json").read_text()) == ["agree", "no"]
    # The head refit the rename queued trains on the renamed labels, in the same class order.
    run_queued(db, (store.JobKind.HEAD,))
    refit = store.current_version(db, pid)
    assert refit["id"] != version["id"]
    assert json.loads((model_export.Path(refit["path"]) / "classes.json").read_text()) == ["agree", "no", "unsure"]


def test_guidelines_are_versioned_with_who_and_when(db):
    pid = make_project(db, TEXTS, name="g")
    with store.transaction(db) as conn:  # a project created with guidelines has them as version 1
        pid2 = store.create_project(conn, "g2", [{"name": "a"}, {"name": "b"}], guidelines="first words")
    assert [(v["number"], v["text"], v["author"]) for v in classes.guideline_versions(db, pid2)] == [(1, "first words", "")]
    ada = auth.create_user(db, None, "ada", PASSWORD, auth.ADMIN)
    assert classes.set_guidelines(db, ada, pid, "Label the topic, not the tone. ") == 1
    assert classes.set_guidelines(db, ada, pid, "Label the topic.") == 2
    history = classes.guideline_versions(db, pid)
    assert [(v["number"], v["text"], v["author"]) for v in history] == [
        (1, "Label the topic, not the tone.", "ada"), (2, "Label the topic.", "ada")]
    assert history[1]["created_at"] >= history[0]["created_at"] > 0
    assert store.project(db, pid)["guidelines"] == "Label the topic."
    assert [r["detail"] for r in auth.audit_log(db) if r["action"] == "change guidelines"] == [{"version": 2},
                                                                                               {"version": 1}]


def test_guidelines_written_before_versions_were_kept_become_version_1(tmp_path):
    import sqlite3
    from pathlib import Path

    path = tmp_path / "v6.db"
    old = sqlite3.connect(path)
    old.executescript((Path(__file__).parent / "data" / "store_v6.sql").read_text())
    old.execute("UPDATE projects SET guidelines = 'be kind' WHERE id = 1")
    old.commit()
    old.close()
    db = store.connect(path)
    assert [(v["number"], v["text"], v["author"]) for v in classes.guideline_versions(db, 1)] == [(1, "be kind", "")]
