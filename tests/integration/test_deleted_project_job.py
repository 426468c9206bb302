"""Issue 19 item 1, as reported: project A deleted while the real worker embeds it, project B
created at once. B gets new ids, B's own embedding job runs (it is not marked done by A's), B's
vectors are B's texts', nothing of A is left on disk, and A's audit entries do not show under B."""
import numpy as np
import pytest

from core import artifacts, store
from core.learning import embeddings
from core.team import auth, projects
from tests.conftest import dataset, make_project, stop_worker, wait_for
from tests.integration.test_worker_process import start_worker

pytestmark = pytest.mark.integration


def test_deleting_a_project_during_its_embedding_never_gives_its_data_to_the_next_one(db, data_dir):
    a_texts = dataset("trec6", "train", 2000)["text"].tolist()
    b_texts = dataset("sst2", "train", 300)["text"].tolist()
    a = make_project(db, a_texts, ["x", "y"], name="A")
    a_examples = set(store.example_ids(db, a))
    [a_job] = store.jobs(db, a)
    process = start_worker(data_dir)
    try:
        wait_for(lambda: store.job(db, a_job["id"])["status"] == store.JobStatus.RUNNING, 120,
                 "the worker to start embedding A")
        projects.delete_project(db, auth.local_actor(), a)
        b = make_project(db, b_texts, ["negative", "positive"], name="B")
        [b_job] = store.jobs(db, b)
        done = wait_for(lambda: (j := store.job(db, b_job["id"]))["status"] == store.JobStatus.DONE and j, 240,
                        "B's embedding")
        wait_for(lambda: not artifacts.project_dir(a).exists(), 60, "A's files to go")
    finally:
        stop_worker(process)
    b_examples = store.example_ids(db, b)
    assert b != a and b_job["id"] != a_job["id"] and not set(b_examples) & a_examples
    assert done["started_at"] is not None and done["message"].startswith("embedded 300 texts")
    [encoder] = [store.latest_encoder(db, b)]
    ids, vectors = embeddings.read(encoder["path"])
    assert sorted(ids.tolist()) == sorted(b_examples)
    texts = store.texts_by_id(db, ids.tolist())
    clean = embeddings.encode(embeddings.load_encoder(None), [texts[i] for i in ids.tolist()])
    cosine = np.sum(np.asarray(vectors) * clean, axis=1)
    assert np.median(cosine) > 0.99, f"B's vectors are not B's texts' (median cosine {np.median(cosine):.3f})"
    assert db.conn.execute("SELECT count(*) FROM encoders WHERE project_id = ?", (a,)).fetchone()[0] == 0
    under_b = [e for e in store.audit_log(db) if e["project_id"] == b]
    assert under_b and all(e["detail"].get("name") in (None, "B") for e in under_b)
    assert [e["action"] for e in store.audit_log(db) if e["project_id"] == a][0] == "delete project"
