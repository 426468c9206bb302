"""Nothing gets out of the data directory, whatever the names; session tokens cannot be guessed."""
import os

import pandas as pd
import pytest

from core import store
from core.files import predict
from core.labeling import annotate, scheduling
from core.team import auth
from tests.conftest import TREC_CLASSES, dataset, make_project, run_queued

TRAVERSAL = "../../../escaped/..\\..\\evil"


def files_under(root) -> set[str]:
    return {os.path.join(d, f) for d, _, names in os.walk(root) for f in names}


@pytest.mark.integration
def test_hostile_names_and_uploads_write_only_inside_the_data_directory(db, data_dir, tmp_path):
    """A project, class, annotator and upload named like paths: import, embedding, labels, a head
    refit, a model export, a datasets export and a prediction upload all write inside the data
    directory and nowhere else."""
    outside_before = files_under(tmp_path) - files_under(data_dir)
    frame = dataset("trec6", "train", 80)
    classes = [TRAVERSAL + "class"] + TREC_CLASSES[1:]
    labels = dict(zip(TREC_CLASSES, classes))
    actor = auth.local_actor(TRAVERSAL + "annotator")
    pid = make_project(db, frame, classes, name=TRAVERSAL, actor=actor)
    run_queued(db, (store.JobKind.EMBED,))
    gold = dict(zip(frame["text"].str.strip(), frame["label"]))
    for _ in range(12):
        shown = annotate.next_text(db, actor, pid)
        annotate.submit_label(db, actor, pid, shown, labels[gold[shown.text]])
    run_queued(db, (store.JobKind.HEAD,))
    version = store.current_version(db, pid)
    scheduling.request_export(db, actor, pid, version["id"])
    scheduling.request_dataset_export(db, actor, pid)
    predict.request_predict(db, actor, pid, version["id"], pd.DataFrame({"text": ["Who wrote Hamlet?"]}), "text",
                            "csv", filename=TRAVERSAL + ".csv")
    run_queued(db, (store.JobKind.EXPORT, store.JobKind.DATASET_EXPORT, store.JobKind.PREDICT))
    outside_after = files_under(tmp_path) - files_under(data_dir)
    assert outside_after == outside_before
    assert not (tmp_path.parent / "escaped").exists() and not any("evil" in p for p in outside_after)


def test_session_tokens_are_long_random_and_stored_only_as_hashes(db):
    admin = auth.create_user(db, None, "ada", "correct horse battery", auth.ADMIN)
    tokens = [auth.login(db, "ada", "correct horse battery").token for _ in range(20)]
    assert len(set(tokens)) == len(tokens) and min(len(t) for t in tokens) >= 43  # 32 random bytes, url-safe
    stored = {r[0] for r in db.conn.execute("SELECT token_hash FROM sessions")}
    assert not stored & set(tokens) and len(stored) == len(tokens)
    assert auth.session_actor(db, tokens[0]).name == admin.name
    assert auth.session_actor(db, tokens[0][:-1] + ("A" if tokens[0][-1] != "A" else "B")) is None
