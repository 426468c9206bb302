"""Roles in the pages headless (AppTest, issue 19): what a role cannot do is not offered, and a refusal
is one plain sentence (no traceback); an annotator without a project is told so."""
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import store
from core.labeling import annotate
from core.team import auth
from tests.conftest import ROOT, make_project
from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version
from tests.unit.test_roles import PASSWORD, team
from ui import state


@pytest.fixture
def project(db, monkeypatch):
    monkeypatch.setenv("SIEVE_WORKER", "external")
    pid = make_project(db, **REGISTRY_PROJECT)
    people = team(db, pid, "ann1")
    encoder_id, ids = fake_encoder(db, pid)
    fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=store.example_ids(db, pid)[:5])
    return pid, people


def signed_in(db, name: str, pid: int | None, page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state[state.SESSION_TOKEN] = auth.login(db, name, PASSWORD).token  # AppTest sends no cookies
    if pid is not None:
        app.query_params["project"] = str(pid)
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def unescaped(elements) -> list[str]:
    """What people read: ui.plain escapes Markdown with backslashes."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]


def labels(app) -> set[str]:
    return {b.label for b in app.button}


def test_an_annotator_is_not_offered_train_pin_or_predict(db, project):
    pid, _ = project
    app = signed_in(db, "ann1", pid, "ui/pages/model.py")
    assert not any(label.startswith(("Train now", "Pin", "Unpin", "Predict")) for label in labels(app))
    assert [t.label for t in app.tabs] == ["How good is it?", "Where is it wrong?", "Versions"]


def test_a_reviewer_may_train_but_is_not_offered_pin(db, project):
    pid, _ = project
    app = signed_in(db, "rev", pid, "ui/pages/model.py")
    assert any(label.startswith("Train now") for label in labels(app))
    assert not any(label.startswith(("Pin", "Unpin")) for label in labels(app))
    assert "Predict on new data" in [t.label for t in app.tabs]  # reviewers export


def test_a_deactivated_annotators_next_key_gets_a_sentence_not_a_traceback(db, project):
    pid, people = project
    app = signed_in(db, "ann1", pid, "ui/pages/annotate.py")
    auth.set_active(db, people["ada"], people["ann1"].user_id, False)
    app.button(key=f"label_{store.classes(db, pid)[0]['id']}").click().run()
    assert not app.exception, [e.value for e in app.exception]
    # One sentence, or (once callbacks check the session first, issue 19 item 6) the sign-in page.
    assert ("This account no longer exists or was deactivated." in unescaped(app.error)
            or any(t.value.startswith("Sign in") for t in app.title)), unescaped(app.error)
    assert not store.current_labels(db, pid)


def test_an_annotator_opening_a_text_someone_else_labeled_is_told_so(db, project):
    pid, people = project
    example_id = store.example_ids(db, pid, store.Split.EVAL)[0]
    annotate.submit_label(db, people["ada"], pid, annotate.NextText.direct(example_id), "yes")
    app = signed_in(db, "ann1", pid, "ui/pages/annotate.py")
    app.session_state[state.label_example(pid)] = (example_id, annotate.FROM_EVAL_MISTAKE)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("Someone else labeled this text" in e for e in unescaped(app.error))


def test_an_annotator_without_a_project_is_told_so(db, project):
    _, people = project
    auth.create_user(db, people["ada"], "newcomer", PASSWORD, auth.ANNOTATOR)
    app = signed_in(db, "newcomer", None, "ui/pages/annotate.py")
    shown = unescaped(app.info)
    assert any("No project is open to you yet" in s for s in shown), shown
    assert not any("Create a project first" in s or "create one on the Projects page" in s for s in shown)


MARKDOWN_CLASSES = ["$\\alpha$", ":red[x]", "[site](http://example.com)"]


def test_adjudicate_shows_class_and_user_names_as_plain_text(db, monkeypatch):
    """Class names are Markdown-proof on the radio (its options are Markdown) and in the vote lines;
    a right-to-left override in a name does not reach the page."""
    import ui

    monkeypatch.setenv("SIEVE_WORKER", "external")
    pid = make_project(db, texts=[f"text {i}" for i in range(6)], classes=MARKDOWN_CLASSES, name="md", overlap=100)
    people = team(db, pid, "ann1", "ma\u202ery")
    example_id = store.example_ids(db, pid)[0]
    annotate.submit_label(db, people["ann1"], pid, annotate.NextText.direct(example_id), MARKDOWN_CLASSES[0])
    annotate.submit_label(db, people["ma\u202ery"], pid, annotate.NextText.direct(example_id), MARKDOWN_CLASSES[1])
    app = signed_in(db, "rev", pid, "ui/pages/adjudicate.py")
    radio = app.radio(key=f"adj_label_{example_id}")
    assert list(radio.options) == [ui.plain(c) for c in MARKDOWN_CLASSES]
    lines = [m.value for m in app.markdown]
    assert "- **ann1**: \\$\\\\alpha\\$" in lines and "- **mary**: \\:red\\[x\\]" in lines, lines
    assert not any("\u202e" in m for m in lines)


def test_the_accounts_table_shows_a_new_account_at_once(db, project):
    app = signed_in(db, "ada", project[0], "ui/pages/team.py")
    app.text_input(key="new_user_name").input("newcomer")
    app.text_input(key="new_user_password").input(PASSWORD)
    next(b for b in app.button if b.label == "Create account").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert "newcomer" in list(app.dataframe[0].value["name"])
    assert any("Created newcomer" in s for s in unescaped(app.success))


def test_settings_page_renames_and_adds_classes_and_versions_guidelines(db, project):
    pid, _ = project
    app = signed_in(db, "ada", pid, "ui/pages/settings.py")
    app.selectbox(key="rename_class_from").select("no")
    app.text_input(key="rename_class_to").input("nope").run()
    next(b for b in app.button if b.label == "Rename class").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert store.class_names(db, pid) == ["yes", "nope"]
    app.text_input(key="add_class_name").input("maybe").run()
    next(b for b in app.button if b.label == "Add class").click().run()
    app.text_area(key=f"guidelines:{pid}").input("Label the topic.").run()
    next(b for b in app.button if b.label == "Save guidelines").click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert store.class_names(db, pid) == ["yes", "nope", "maybe"]
    table = next(d.value for d in app.dataframe if "class" in d.value.columns)
    assert list(table["class"]) == ["yes", "nope", "maybe"]
    assert [(v["text"], v["author"]) for v in store.guideline_versions(db, pid)] == [("Label the topic.", "ada")]


HOSTILE = "**b** $x$ :red[r] [l](http://e.com) \u202eevil"  # Markdown, LaTeX, a colour, a link, an override
RAW = ("**b**", "$x$", ":red[r]", "[l](", "http://e.com", "\u202e")


@pytest.mark.parametrize("page", ["projects", "annotate", "model", "review", "adjudicate", "settings", "team",
                                  "export"])
def test_no_user_string_reaches_markdown_unescaped_on_any_page(db, monkeypatch, page):
    """Every page, fed a project, classes, a description, guidelines, texts and a user name that are all
    hostile: no element Streamlit renders as Markdown (text, captions, alerts, titles, button, tab,
    expander and metric labels, radio options, help tooltips) holds one of them as written, and no
    plain-text element, table cell or select option keeps a bidi override."""
    monkeypatch.setenv("SIEVE_WORKER", "external")
    pid = make_project(db, texts=[f"{HOSTILE} {i}" for i in range(40)], classes=[HOSTILE, "plain"],
                       name=f"{HOSTILE} project", eval_fraction=0.25, overlap=100,
                       class_details=[{"name": HOSTILE, "description": HOSTILE}])
    people = team(db, pid, f"{HOSTILE} ann", "ann2")
    with store.transaction(db) as conn:
        store.set_guidelines(conn, pid, HOSTILE, f"{HOSTILE} ann")
    example_id = store.example_ids(db, pid, store.Split.EVAL)[0]
    annotate.submit_label(db, people[f"{HOSTILE} ann"], pid, annotate.NextText.direct(example_id), HOSTILE)
    annotate.submit_label(db, people["ann2"], pid, annotate.NextText.direct(example_id), "plain")
    encoder_id, ids = fake_encoder(db, pid)
    fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=store.example_ids(db, pid)[:5])
    app = signed_in(db, "ada", pid, f"ui/pages/{page}.py")
    shown = []
    for kind in ("markdown", "caption", "success", "error", "info", "warning", "title", "subheader", "header",
                 "toast", "exception"):
        shown += [(kind, e.value) for e in app.get(kind)]
    shown += [("button", b.label) for b in app.button] + [("tab", t.label) for t in app.tabs]
    shown += [("expander", e.label) for e in app.expander] + [("metric", m.label) for m in app.metric]
    shown += [("radio", o) for r in app.radio for o in r.options]
    shown += [("help", w.help) for w in [*app.button, *app.metric] if getattr(w, "help", None)]
    found = [(kind, value) for kind, value in shown if any(raw in str(value) for raw in RAW)]
    assert not found, found
    # Plain-text elements and table cells parse nothing, but an override would still reverse them.
    plain = [t.value for t in app.text] + [str(v) for d in app.dataframe for v in d.value.to_numpy().ravel()]
    plain += [o for s in app.selectbox for o in s.options]
    assert not [v for v in plain if "\u202e" in v], plain
    assert not app.exception, [e.value for e in app.exception]
