"""Jobs as users see them (AppTest): readable names, never a raw kind; identical queued jobs as one
line with a count; a running job as one progress widget with its message and time left."""
import pytest
from streamlit.testing.v1 import AppTest

from core import store
import ui
from ui import state
from tests.conftest import ROOT, make_project
from tests.unit.test_registry import REGISTRY_PROJECT

RAW = ("head", "full", "embed", "export", "dataset_export", "predict", "quality")  # the stored kinds


def open_app(pid, page=None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state["annotator"] = "alice"
    app.session_state["project_id"] = pid
    app.run()
    if page:
        app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.fixture
def pid(db, monkeypatch):
    monkeypatch.setenv("SIEVE_WORKER", "external")  # the test drives the store; no background worker
    pid = make_project(db, **REGISTRY_PROJECT)
    job = store.claim_job(db, "test", (store.JobKind.EMBED,))  # the import's embedding, running
    with store.transaction(db) as conn:
        store.finish_job(conn, job["id"], message="embedded")
        for _ in range(18):  # refits requested while the pool was embedded
            store.enqueue(conn, pid, store.JobKind.HEAD, {"reason": "5 new labels"})
        store.enqueue(conn, pid, store.JobKind.DATASET_EXPORT)
        store.enqueue(conn, pid, store.JobKind.FULL, {"reason": "requested"}, priority=5)
    full = store.claim_job(db, "test", (store.JobKind.FULL,))
    store.job_progress(db, full["id"], 0.5, "step 40 of 80")
    db.conn.execute("UPDATE jobs SET started_at = ? WHERE id = ?", (store.now() - 120, full["id"]))
    return pid


def sidebar_lines(app) -> tuple[list[str], list[str]]:
    return ([c.value for c in app.sidebar.caption], [p.proto.text for p in app.sidebar.get("progress")])


def test_the_sidebar_names_jobs_in_words_and_counts_identical_queued_ones(pid):
    captions, bars = sidebar_lines(open_app(pid))
    queued = [c for c in captions if c.startswith("queued")]
    assert queued == [ui.plain("queued: quick model refit × 18"), ui.plain("queued: dataset export")]  # one line
    assert not any(c.startswith(ui.plain(f"queued: {raw}")) or c.startswith(ui.plain(f"{raw}:"))
                   for c in captions + bars for raw in RAW)  # never a raw kind
    [bar] = bars
    assert bar.startswith(ui.plain("full retrain: step 40 of 80")) and "about 2 min left" in bar, bar


def test_the_model_page_shows_jobs_with_the_same_widget(pid):
    app = open_app(pid, "ui/pages/model.py")
    main_captions = [c.value for c in app.main.caption]
    assert ui.plain("queued: quick model refit × 18") in main_captions
    assert any(p.proto.text.startswith(ui.plain("full retrain: step 40 of 80")) for p in app.main.get("progress"))


def test_a_job_message_is_shown_as_plain_text(db, pid):
    full = next(j for j in store.active_jobs(db, pid) if j["status"] == store.JobStatus.RUNNING)
    store.job_progress(db, full["id"], 0.5, "**bold** :red[alarm]")
    [bar] = sidebar_lines(open_app(pid))[1]
    assert ui.plain("**bold** :red[alarm]") in bar  # escaped, so Streamlit shows it as typed


def test_the_export_page_shows_the_dataset_export_with_the_same_widget(db, pid):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state["annotator"] = "alice"
    app.session_state["project_id"] = pid
    [dataset] = [j for j in store.active_jobs(db, pid) if j["kind"] == store.JobKind.DATASET_EXPORT]
    app.session_state[state.dataset_job(pid)] = dataset["id"]
    app.run()
    app.switch_page("ui/pages/export.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert ui.plain("queued: dataset export") in [c.value for c in app.main.caption]
    store.claim_job(db, "test", (store.JobKind.DATASET_EXPORT,))
    store.job_progress(db, dataset["id"], 0.7, "compressing")
    app.run()
    assert any(p.proto.text.startswith(ui.plain("dataset export: compressing")) for p in app.main.get("progress"))
