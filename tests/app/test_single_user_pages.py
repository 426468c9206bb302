"""The pages a single user meets in a long session (issue 20 items 6 and 9), headless (AppTest)."""
from streamlit.testing.v1 import AppTest

from core import store
from core.labeling import annotate
from core.team import auth, projects
from tests.app.test_annotate_page import CLASSES, app, new_app, upload_csv  # noqa: F401 (the fixture)
from tests.conftest import ROOT, make_project
from ui import state


def open_annotate(monkeypatch, name="alice") -> AppTest:
    monkeypatch.setenv("SIEVE_WORKER", "external")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state[state.ANNOTATOR] = name
    at.run()
    at.switch_page("ui/pages/annotate.py").run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict:
    return {m.label: m.value for m in at.metric}


def captions(at) -> str:
    return " | ".join(c.value for c in at.caption)


def test_counters_agree_and_nothing_is_counted_since_a_model_that_does_not_exist(db, monkeypatch):
    pid = make_project(db, [f"text number {i}" for i in range(40)], eval_fraction=0.25)
    pool, evals = store.example_ids(db, pid, store.Split.POOL), store.example_ids(db, pid, store.Split.EVAL)
    for example_id in pool[:3] + evals[:2]:
        annotate.submit_label(db, auth.local_actor("alice"), pid, annotate.NextText.direct(example_id), "yes", 3.0)
    at = open_annotate(monkeypatch)
    shown = metrics(at)
    assert shown["Labels"] == "3" and shown["Eval labels"] == "2 / 10"
    assert not any("since" in label.lower() for label in shown), shown  # there is no model yet


def test_annotate_shows_progress_budget_and_the_sessions_pace(db, monkeypatch):
    pid = make_project(db, [f"text number {i}" for i in range(40)])
    projects.update_settings(db, auth.local_actor(), pid, {"label_budget": 20})
    for example_id in store.example_ids(db, pid)[:4]:
        annotate.submit_label(db, auth.local_actor("alice"), pid, annotate.NextText.direct(example_id), "yes", 4.0)
    at = open_annotate(monkeypatch)
    bars = [p.value for p in at.get("progress")]
    texts = " | ".join(str(p.proto.text) for p in at.get("progress"))
    assert "4 of 40 pool texts labeled" in texts and "4 of a budget of 20 labels" in texts, texts
    assert len(bars) == 2
    assert "This session: 4 labels" in captions(at) and "4.0 s per label" in captions(at)


def test_an_empty_project_draws_no_chart_and_class_counts_have_whole_number_ticks(db, monkeypatch):
    pid = make_project(db, [f"text number {i}" for i in range(10)])
    at = open_annotate(monkeypatch)
    assert not at.get("vega_lite_chart"), "a chart of zero labels (its axis read 0.000000)"
    annotate.submit_label(db, auth.local_actor("alice"), pid, annotate.NextText.direct(store.example_ids(db, pid)[0]),
                          "yes", 1.0)
    at.run()
    [chart] = at.get("vega_lite_chart")
    import json

    spec = json.loads(chart.proto.spec)
    assert spec["encoding"]["x"]["axis"]["format"] == "d"


def test_create_clears_the_form_and_links_to_annotate(db, monkeypatch):
    at = new_app(monkeypatch)
    at.file_uploader(key="new_upload").upload("questions.csv", upload_csv(), "text/csv").run()
    at.text_input(key="class_spec").set_value(", ".join(CLASSES)).run()
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception
    assert "Created" in at.success[0].value
    assert not any(b.label == "Create project" for b in at.button), "the form still holds the file just used"
    links = [link.proto.page for link in at.get("page_link")]
    assert "annotate" in links, links
