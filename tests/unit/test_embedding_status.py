"""What the Annotate page says before the first model (issue 20, item 5)."""
from core import store
from core.labeling import annotate
from tests.conftest import make_project


def test_the_page_says_the_texts_are_being_prepared_with_time_left_and_to_keep_labeling(db):
    pid = make_project(db, texts=[f"text {i}" for i in range(30)])
    assert "waiting for the background worker" in annotate.model_status(db, pid)
    job = store.claim_job(db, "w", (store.JobKind.EMBED,))
    store.job_progress(db, job["id"], 0.25, "embedded 2,000 of 8,057 texts")
    words = annotate.model_status(db, pid, now=store.job(db, job["id"])["started_at"] + 100)
    assert "preparing the texts for the model: embedded 2,000 of 8,057 texts · about 5 min left" in words
    assert "Keep labeling" in words and "once two classes" not in words
    with store.transaction(db) as conn:
        store.finish_job(conn, job["id"])
    assert annotate.model_status(db, pid) == "No model yet: the first one trains once two classes have labels."
