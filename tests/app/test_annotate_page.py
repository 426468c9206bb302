"""The Streamlit app, headless (streamlit.testing.v1.AppTest): label through the Annotate page."""
import pytest
from streamlit.testing.v1 import AppTest

from core import store
from core.files import imports
from core.learning import classifiers, strategies
from core.team import auth, projects
from tests.conftest import ROOT, make_project
from ui import state

CLASSES = ["question", "statement"]
TEXTS = [f"Text number {i} to label?" for i in range(14)] + ["<script>alert('x')</script> **not bold**"]


def upload_csv() -> bytes:
    return ("text\n" + "\n".join(f'"{t}"' for t in TEXTS)).encode()


def new_app(monkeypatch) -> AppTest:
    monkeypatch.setenv("SIEVE_WORKER", "external")  # the test drives the store; no background worker
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state[state.ANNOTATOR] = "alice"
    at.run()
    assert not at.exception
    return at


@pytest.fixture
def app(db, monkeypatch):
    """A project created through the Projects page, then the Annotate page open."""
    at = new_app(monkeypatch)
    at.file_uploader(key="new_upload").upload("questions.csv", upload_csv(), "text/csv").run()
    at.text_input(key="class_spec").set_value(", ".join(CLASSES)).run()
    at.text_area[0].set_value("Questions end with a question mark.")
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    [project] = store.projects(db)
    assert project["name"] == "questions" and store.example_count(db, project["id"]) == len(TEXTS)
    assert store.class_names(db, project["id"]) == CLASSES
    at.switch_page("ui/pages/annotate.py").run()
    assert not at.exception
    return at, project["id"]


def test_bad_upload_shows_a_message_and_creates_nothing(db, monkeypatch):
    at = new_app(monkeypatch)
    at.file_uploader(key="new_upload").upload("bad.png.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "text/csv").run()
    assert not at.exception
    assert "not a text file" in at.error[0].value
    at.file_uploader(key="new_upload").upload("one.csv", b"text\nhello\n", "text/csv").run()
    at.text_input(key="class_spec").set_value("only-one").run()
    next(b for b in at.button if b.label == "Create project").click().run()
    assert "at least two classes" in at.error[0].value
    assert store.projects(db) == []


def test_column_names_in_messages_are_not_markdown(db, monkeypatch):
    at = new_app(monkeypatch)
    header = b"[click](http://evil.example) **x**, [click](http://evil.example) **x**\nhello,world\n"
    at.file_uploader(key="new_upload").upload("evil.csv", header, "text/csv").run()
    assert not at.exception
    message = at.error[0].value
    assert "duplicate column names" in message
    assert "[click](" not in message and "**x**" not in message  # escaped: shown as typed, not as a link


def test_latin1_upload_imports_and_says_how_it_was_read(db, monkeypatch):
    at = new_app(monkeypatch)
    at.file_uploader(key="new_upload").upload("latin.csv", "text\ncaf\xe9\nna\xefve\n".encode("latin-1"),
                                             "text/csv").run()
    assert not at.exception and not at.error
    assert "Read as Latin-1 (Windows-1252) (detected)." in [c.value for c in at.caption]
    at.text_input(key="class_spec").set_value("pos, neg").run()
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception and not at.error
    [project] = store.projects(db)
    assert sorted(store.texts_by_id(db, store.example_ids(db, project["id"])).values()) == ["caf\xe9", "na\xefve"]


def test_headerless_csv_is_noticed_and_read_without_a_header(db, monkeypatch):
    at = new_app(monkeypatch)
    content = b"I loved this film and would watch it again.\nTerrible acting and a dull plot.\nGreat.\n"
    at.file_uploader(key="new_upload").upload("reviews.csv", content, "text/csv").run()
    assert not at.exception
    header = next(c for c in at.checkbox if c.label == "The first row is a header")
    assert header.value is False
    assert at.selectbox[0].options == ["column_1"]
    header.check().run()  # the user knows better: the first row becomes the column name again
    assert at.selectbox[0].options == ["I loved this film and would watch it again."]
    next(c for c in at.checkbox if c.label == "The first row is a header").uncheck().run()
    assert at.selectbox[0].options == ["column_1"]
    at.text_input(key="class_spec").set_value("pos, neg").run()
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception and not at.error
    [project] = store.projects(db)
    assert store.example_count(db, project["id"]) == 3  # the form is empty again afterwards (issue 20)


GOLD = b"text,label\nfirst,pos\nsecond,neg\nthird,\nfourth,pos\n"


def test_label_column_is_opt_in_and_says_how_many_arrive_labeled(db, monkeypatch):
    at = new_app(monkeypatch)
    at.file_uploader(key="new_upload").upload("gold.csv", GOLD, "text/csv").run()
    assert at.selectbox(key="label_column").value == "(none)"
    assert not any("will arrive" in t.value for t in at.text)
    at.text_input(key="class_spec").set_value("pos, neg").run()
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception and not at.error
    [project] = store.projects(db)
    assert store.current_labels(db, project["id"]) == []  # no gold labels unless asked for


def test_picked_label_column_imports_its_labels(db, monkeypatch):
    at = new_app(monkeypatch)
    at.file_uploader(key="new_upload").upload("gold.csv", GOLD, "text/csv").run()
    at.selectbox(key="label_column").select("label").run()
    assert not at.exception
    assert "3 of 4 texts will arrive already labeled." in [t.value for t in at.text]
    assert imports.parse_classes(at.text_input[0].value) == ["neg", "pos"]
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception and not at.error
    [project] = store.projects(db)
    assert len(store.current_labels(db, project["id"])) == 3


def shown_text(at) -> str:
    return at.text[-1].value if at.text else ""


def test_label_ten_texts_through_the_page(app, db):
    at, pid = app
    class_ids = {c["name"]: c["id"] for c in store.classes(db, pid)}
    seen = []
    for i in range(10):
        text = shown_text(at)
        seen.append(text)
        at.button(key=f"label_{class_ids[CLASSES[i % 2]]}").click().run()
        assert not at.exception
    labels = store.current_labels(db, pid)
    assert len(labels) == 10
    texts = store.texts_by_id(db, [r["example_id"] for r in labels])
    assert sorted(texts.values()) == sorted(seen)  # exactly the texts that were shown
    rows = store.annotations(db, pid)
    assert {r["annotator"] for r in rows} == {"alice"} and all(r["seconds"] is not None for r in rows)
    assert all(r["strategy"] for r in rows)  # "why this text" is recorded with each label
    assert [r["label"] for r in rows] == [CLASSES[i % 2] for i in range(10)]


def test_skip_and_undo(app, db):
    at, pid = app
    class_id = store.classes(db, pid)[0]["id"]
    first = shown_text(at)
    at.button(key=f"label_{class_id}").click().run()
    assert shown_text(at) != first
    undo = next(b for b in at.button if b.label.startswith("Undo"))
    undo.click().run()
    assert shown_text(at) == first  # the undone text comes back
    assert store.current_labels(db, pid) == []
    skip = next(b for b in at.button if b.label.startswith("Skip"))
    skip.click().run()
    assert shown_text(at) != first
    assert [r["action"] for r in store.annotations(db, pid)] == ["label", "undo", "skip"]


def test_texts_render_as_plain_text(app, db):
    at, pid = app
    html_id = next(i for i, t in store.texts_by_id(db, store.example_ids(db, pid)).items() if "<script>" in t)
    from core.labeling import annotate

    at.session_state[state.desk(pid, "alice")].show(annotate.show_example(db, auth.local_actor("alice"), pid, html_id, "test"))
    at.run()
    assert shown_text(at) == TEXTS[-1]  # st.text: shown verbatim, never parsed as HTML or Markdown
    assert all("<script>" not in m.value for m in at.markdown)


def test_other_pages_render(app):
    at, _ = app
    for page in ("ui/pages/model.py", "ui/pages/export.py", "ui/pages/projects.py"):
        at.switch_page(page).run()
        assert not at.exception, page


def test_settings_page_validates_and_saves(app, db):
    at, pid = app
    store.worker_heartbeat(db, "cpu-worker", 1, "host", "cpu")  # the device comes from the worker's heartbeat
    at.switch_page("ui/pages/settings.py").run()
    assert not at.exception
    next(s for s in at.selectbox if s.label == "Model family").select("transformer").run()
    assert not at.exception and any("slow without a GPU" in w.value for w in at.warning)
    gradual = next(t for t in at.toggle if t.label.startswith("Gradual"))
    frozen = next(t for t in at.toggle if t.label.startswith("Freeze"))
    gradual.set_value(True)
    frozen.set_value(True).run()
    assert "exclude each other" in at.error[0].value  # invalid combination: not saved
    frozen = next(t for t in at.toggle if t.label.startswith("Freeze"))
    frozen.set_value(False).run()
    next(b for b in at.button if b.label == "Save settings").click().run()
    settings = store.settings(db, pid)
    assert settings.family == "transformer" and settings.family_args["transformer"]["gradual_unfreezing"]
    assert settings.family_arguments().gradual_unfreezing
    # Only what was changed is stored: the transformer's other arguments keep following the defaults.
    assert set(settings.family_args["transformer"]) == {"gradual_unfreezing"}


def test_settings_page_warns_about_cpu_only_for_a_cpu_worker(app, db):
    at, pid = app
    store.worker_heartbeat(db, "gpu-worker", 1, "gpu-host", "cuda")
    at.switch_page("ui/pages/settings.py").run()
    next(s for s in at.selectbox if s.label == "Model family").select("transformer").run()
    assert not at.exception and not any("slow without a GPU" in w.value for w in at.warning)


def test_settings_page_saves_only_what_changed(app, db):
    """Two people on the Settings page: saving one change must not undo another's."""
    at, pid = app
    at.switch_page("ui/pages/settings.py").run()
    projects.update_settings(db, auth.local_actor(), pid, {"retrain_every": 7})  # someone else saves meanwhile
    next(n for n in at.number_input if n.label.startswith("Update the quick model")).set_value(3).run()
    next(b for b in at.button if b.label == "Save settings").click().run()
    settings = store.settings(db, pid)
    assert settings.refit_every == 3 and settings.retrain_every == 7


def test_settings_page_saves_warm_start_and_its_steps(app, db):
    at, pid = app
    at.switch_page("ui/pages/settings.py").run()
    steps = next(n for n in at.number_input if n.label == "Steps when continuing")
    assert steps.disabled  # warm start is off by default
    next(t for t in at.toggle if t.label.startswith("Continue from the last")).set_value(True).run()
    next(n for n in at.number_input if n.label == "Steps when continuing").set_value(4).run()
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception
    saved = store.settings(db, pid).family_args["setfit"]
    assert saved["warm_start"] is True and saved["warm_steps"] == 4


def test_settings_page_shows_each_familys_fields_and_strategy_titles(app, db):
    """The page builds its inputs from the family spec and names strategies by their spec titles."""
    at, pid = app
    at.switch_page("ui/pages/settings.py").run()
    chooser = next(s for s in at.selectbox if s.label == "Which texts to show next")
    assert chooser.options == [s.title for s in strategies.SPECS]
    for family in classifiers.FAMILIES:
        next(s for s in at.selectbox if s.label == "Model family").select(family).run()
        assert not at.exception
        shown = {w.label for w in [*at.number_input, *at.toggle]}
        assert {f.label for f in classifiers.spec(family).fields} <= shown, family
    next(s for s in at.selectbox if s.label == "Model family").select("setfit-diff").run()
    head_epochs = next(n for n in at.number_input if n.label == "Head epochs")
    head_epochs.set_value(3).run()
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception
    settings = store.settings(db, pid)
    # Only the element that changed: the body phase's epochs and every other argument follow the defaults.
    assert settings.family_args["setfit-diff"] == {"num_epochs": [1, 3]}
    assert settings.family_arguments().num_epochs == (1, 3)


def test_settings_page_turns_class_names_as_examples_off(app, db):
    at, pid = app
    at.switch_page("ui/pages/settings.py").run()
    names = next(t for t in at.toggle if t.label == "Learn from the class names too")
    assert names.value is True  # on by default
    names.set_value(False).run()
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception and store.settings(db, pid).head.class_names is False
    assert "Saved: learning from the class names. The quick model refits with them now" in at.success[0].value


def test_names_are_shown_as_plain_text(db, monkeypatch):
    """Markdown, LaTeX and Streamlit directives in a project or class name are escaped, never rendered."""
    from core.files import imports

    make_project(db, imports.read_table(upload_csv(), "q.csv"), ["**bad** :red[x]", "fine"], name="**bold** $x^2$ :red[x]")
    at = new_app(monkeypatch)
    at.switch_page("ui/pages/annotate.py").run()
    assert not at.exception
    assert at.title[0].value == "Annotate · \\*\\*bold\\*\\* \\$x\\^2\\$ \\:red\\[x\\]"
    assert any(b.label == "\\*\\*bad\\*\\* \\:red\\[x\\]" for b in at.button)


def test_no_button_is_painted_as_the_models_choice_and_unsure_suggestions_are_hidden(app, db):
    from core.labeling import annotate

    at, pid = app
    assert all(b.type != "primary" for b in at.button if b.key and b.key.startswith("label_"))
    shown = at.session_state[state.shown(pid, "alice")]
    unsure = annotate.NextText(shown.example_id, shown.text, {}, "pool", "margin", 0.9, None, "question", 0.52)
    at.session_state[state.desk(pid, "alice")].show(unsure)  # what the page shows lives on its desk (ui/desk.py)
    at.run()
    assert not any("leans towards" in c.value for c in at.caption)
    assert any("unsure about this text" in c.value for c in at.caption)
    sure = annotate.NextText(shown.example_id, shown.text, {}, "pool", "margin", 0.9, None, "question", 0.91)
    assert annotate.confident_suggestion(sure) == ("question", 0.91)
    assert annotate.describe(sure)[0].startswith("Picked because the model was torn")  # plain words first


def test_name_and_project_come_back_from_the_url(app, db, monkeypatch):
    at, pid = app
    assert at.query_params["name"] == "alice"
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)  # a reload: a new session
    fresh.query_params["name"] = "bob"
    fresh.query_params["project"] = str(pid)
    fresh.run()
    assert fresh.session_state["annotator"] == "bob" and fresh.session_state["project_id"] == pid


def test_text_labeled_by_someone_else_meanwhile_is_refused_and_the_next_one_shown(app, db):
    at, pid = app
    from core.labeling import annotate

    first = shown_text(at)
    example_id = next(i for i, t in store.texts_by_id(db, store.example_ids(db, pid)).items() if t == first)
    db.conn.execute("UPDATE leases SET expires_at = 0")  # alice's hold on it ran out while she read
    annotate.submit_label(db, auth.local_actor("bob"), pid, annotate.NextText.direct(example_id), CLASSES[1])
    class_id = store.classes(db, pid)[0]["id"]
    at.button(key=f"label_{class_id}").click().run()
    assert not at.exception
    assert "Someone else labeled this text" in at.error[0].value
    assert shown_text(at) != first  # moved on to the next text
    assert [(r["annotator"], r["label"]) for r in store.current_labels(db, pid)] == [("bob", CLASSES[1])]


def test_a_locked_database_shows_a_try_again_message(app, db, monkeypatch):
    import sqlite3

    at, pid = app
    first = shown_text(at)

    def locked(_db):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store, "transaction", locked)
    class_id = store.classes(db, pid)[0]["id"]
    at.button(key=f"label_{class_id}").click().run()
    assert not at.exception
    assert "try again" in at.error[0].value
    next(b for b in at.button if b.label.startswith("Skip")).click().run()
    assert not at.exception and "try again" in at.error[0].value
    next(b for b in at.button if b.label.startswith("Undo")).click().run()
    assert not at.exception and "try again" in at.error[0].value
    assert shown_text(at) == first and store.annotations(db, pid) == []
    monkeypatch.undo()
    at.button(key=f"label_{class_id}").click().run()  # the lock is gone: the same text is saved
    assert not at.exception and len(store.current_labels(db, pid)) == 1


def test_sidebar_shows_a_failed_retrain_with_a_true_message(app, db):
    at, pid = app
    with store.transaction(db) as conn:
        full = store.enqueue(conn, pid, store.JobKind.FULL)
        conn.execute("UPDATE jobs SET status = 'failed', attempts = 3, "
                     "message = 'failed after 3 attempts: the worker stopped responding' WHERE id = ?", (full,))
        for _ in range(8):
            store.finish_job(conn, store.enqueue(conn, pid, store.JobKind.HEAD))
    at.run()
    assert not at.exception
    import ui  # the sidebar's job-status fragment (which AppTest does not render) shows these lines

    captions = " ".join(ui.failure_lines(db, pid))
    assert "full retrain failed" in captions
    assert ui.plain("failed after 3 attempts: the worker stopped responding") in captions
    assert "re-queued" not in captions
