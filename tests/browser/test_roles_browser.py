"""Roles as people see them, in a real Chromium (issue 19, items 9, 10, 11 and 13): an annotator is not
offered Train now, Pin or Predict and sees only their own labels; a reviewer is not offered Pin; class
and user names show as typed (no Markdown, no right-to-left override); a deactivated annotator's next
key gets a sentence, not a traceback; an admin renames and adds classes and versions the guidelines."""
import contextlib
import json
import os
import sqlite3

import numpy as np
import pytest

from core import artifacts, store
from core.labeling import annotate
from core.team import auth
from tests.browser import harness
from tests.browser.test_annotate_browser import reviews
from tests.conftest import make_project
from tests.unit.test_registry import fake_encoder

pytestmark = pytest.mark.browser
PASSWORD = "umbrella-quartz-71"
CLASSES = ["$\\alpha$", ":red[x]", "[site](http://example.com)"]
MARY = "ma\u202ery"  # a right-to-left override in a name


@contextlib.contextmanager
def data_dir_of(data_dir):
    """core's store opens SIEVE_DATA_DIR: this data directory's, for the block."""
    previous = os.environ.get("SIEVE_DATA_DIR")
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SIEVE_DATA_DIR", None)
        else:
            os.environ["SIEVE_DATA_DIR"] = previous


def seed(data_dir) -> dict:
    """A project with Markdown class names, eval texts labeled by two annotators (one disagreement), a
    version that predicts the second class everywhere, and four accounts. Made through core."""
    with data_dir_of(data_dir):
        db = store.connect()
        pid = make_project(db, reviews(), CLASSES, name="shop", eval_fraction=0.2, overlap=100)
        ada = auth.create_user(db, None, "ada", PASSWORD, auth.ADMIN)
        people = {"ada": ada}
        for name, role in (("ann1", auth.ANNOTATOR), (MARY, auth.ANNOTATOR), ("rev", auth.REVIEWER)):
            people[name] = auth.create_user(db, ada, name, PASSWORD, role)
            auth.assign(db, ada, people[name].user_id, pid)
        e = store.example_ids(db, pid, store.Split.EVAL)
        for who, example_id, label in (("ann1", e[0], CLASSES[0]), ("ann1", e[1], CLASSES[0]),
                                       (MARY, e[0], CLASSES[2]), (MARY, e[2], CLASSES[0])):
            annotate.submit_label(db, people[who], pid, annotate.NextText.direct(example_id), label)
        encoder_id, ids = fake_encoder(db, pid)
        with store.transaction(db) as conn:  # the fake encoder stands in for the embedding
            for job in store.active_jobs(db, pid):
                store.finish_job(conn, job["id"], message="done (test)")
        directory = artifacts.project_dir(pid) / "versions" / "v-fake1"
        directory.mkdir(parents=True)
        probs = np.full((len(ids), 3), 0.1, np.float32)
        probs[:, 1] = 0.8
        np.save(directory / "probs.npy", probs)
        pool = np.array(store.example_ids(db, pid, store.Split.POOL)[:20], np.int64)
        np.save(directory / "queue.npy", pool)
        np.save(directory / "queue_scores.npy", np.zeros(len(pool), np.float32))
        (directory / "classes.json").write_text(json.dumps(CLASSES))
        with store.transaction(db) as conn:
            store.publish_version(conn, pid, store.NewVersion(
                store.JobKind.HEAD, encoder_id, str(directory), store.max_annotation_id(db, pid),
                store.label_count(db, pid), {}, {}, {}))
        texts = store.texts_by_id(db, e[:3])
        return {"pid": pid, "people": people, "eval": e[:3], "texts": texts}


def sign_in(browser, url: str, name: str):
    """A fresh browser context signed in as `name` (waits for the sidebar, not for the URL)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    harness.goto(page, url)
    main = page.locator('[data-testid="stMain"]')
    main.get_by_label("Name", exact=True).fill(name)
    main.get_by_label("Password", exact=True).fill(PASSWORD)
    main.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stSidebar"]', has_text="Signed in as").wait_for()
    harness.wait_idle(page)
    return context, page


def no_traceback(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


def grid_cells(page) -> str:
    """The text of every cell the main area's tables drew (the grid's accessible table, hidden: the
    grid paints on a canvas)."""
    return "\n".join(page.locator('[data-testid="stMain"] [data-testid="stDataFrame"] td').all_text_contents())


@pytest.fixture
def seeded(app_factory, browser, tmp_path):
    """(app, what `seed` made, a read-only connection, sign_in(name) -> page); contexts closed after."""
    data_dir = tmp_path / "data"
    made = seed(data_dir)
    app = app_factory(data_dir, env={"SIEVE_WORKER": "external"})  # the seeded version stays served
    db = sqlite3.connect(f"file:{data_dir / 'sieve.db'}?mode=ro", uri=True, timeout=5)
    contexts = []

    def signed_in(name: str):
        context, page = sign_in(browser, app.url, name)
        contexts.append(context)
        return page

    yield app, {**made, "data_dir": data_dir}, db, signed_in
    for context in contexts:
        context.close()
    db.close()


def test_an_annotator_sees_only_their_own_labels_where_the_model_is_wrong(seeded):
    _, made, _, signed_in = seeded
    e, texts = made["eval"], made["texts"]
    ann1 = signed_in("ann1")
    harness.open_page(ann1, "Model")
    ann1.get_by_role("tab", name="Where is it wrong?").click()
    harness.wait_idle(ann1)
    ann1.locator('[data-testid="stMain"] [data-testid="stDataFrame"] td').first.wait_for(state="attached")
    cells = grid_cells(ann1)
    assert texts[e[0]] in cells and texts[e[1]] in cells, cells  # ann1's own mistakes
    assert texts[e[2]] not in cells, cells  # only mary labeled it: not for ann1's eyes
    assert CLASSES[2] not in cells, cells  # mary's label on the text both labeled
    no_traceback(ann1)


def test_each_role_is_offered_only_what_it_may_do_and_a_refusal_is_a_sentence(seeded):
    _, made, db, signed_in = seeded
    ann1 = signed_in("ann1")
    harness.open_page(ann1, "Model")
    main = ann1.locator('[data-testid="stMain"]')
    assert main.get_by_role("button", name="Train now").count() == 0
    assert ann1.get_by_role("tab", name="Predict on new data").count() == 0
    ann1.get_by_role("tab", name="Versions").click()
    harness.wait_idle(ann1)
    assert main.get_by_role("button", name="Pin this version").count() == 0
    no_traceback(ann1)

    rev = signed_in("rev")
    harness.open_page(rev, "Model")
    assert rev.locator('[data-testid="stMain"]').get_by_role("button", name="Train now").count() == 1
    rev.get_by_role("tab", name="Versions").click()
    harness.wait_idle(rev)
    assert rev.locator('[data-testid="stMain"]').get_by_role("button", name="Pin this version").count() == 0

    # A deactivated annotator's next key: one sentence, no traceback, no label.
    harness.open_page(ann1, "Annotate")
    labels_before = db.execute("SELECT count(*) FROM annotations").fetchone()[0]
    with data_dir_of(made["data_dir"]):
        auth.set_active(store.connect(), made["people"]["ada"], made["people"]["ann1"].user_id, False)
    ann1.evaluate("() => { if (document.activeElement) document.activeElement.blur(); }")
    ann1.keyboard.press("1")
    # One sentence, or (once callbacks check the session first, issue 19 item 6) the sign-in page.
    ann1.locator('[data-testid="stAlert"]:has-text("no longer exists or was deactivated"), '
                 'h1:has-text("Sign in")').first.wait_for()
    harness.wait_idle(ann1)
    no_traceback(ann1)
    assert db.execute("SELECT count(*) FROM annotations").fetchone()[0] == labels_before


def test_class_and_user_names_show_as_typed(seeded):
    _, _, _, signed_in = seeded
    rev = signed_in("rev")
    harness.open_page(rev, "Adjudicate")
    no_traceback(rev)
    shown = harness.main_text(rev).replace("\u2060", "")  # ui.plain's invisible link breaker
    for name in CLASSES:
        assert name in shown, (name, shown)  # as typed, in the vote lines and on the radio
    assert "mary" in shown and "\u202e" not in shown
    rendered = rev.locator('[data-testid="stMain"] .katex, [data-testid="stMain"] a[href*="example.com"]')
    assert rendered.count() == 0, [rendered.nth(i).evaluate("e => e.parentElement.outerHTML")
                                   for i in range(rendered.count())]
    assert "\u202e" not in rev.locator('[data-testid="stSidebar"]').inner_text()


def test_an_admin_renames_and_adds_classes_and_versions_the_guidelines(seeded):
    _, _, db, signed_in = seeded
    ada = signed_in("ada")
    harness.open_page(ada, "Settings")
    harness.choose(ada, "Class to rename", CLASSES[0], scope='[data-testid="stMain"]')
    box = ada.locator('[data-testid="stMain"]').get_by_label("New name", exact=True)
    box.fill("alpha")
    box.press("Enter")
    harness.wait_idle(ada)
    ada.get_by_role("button", name="Rename class").click()
    ada.locator('[data-testid="stAlertContentSuccess"]', has_text="Renamed").wait_for()
    box = ada.locator('[data-testid="stMain"]').get_by_label("New class", exact=True)
    box.fill("neutral")
    box.press("Enter")
    harness.wait_idle(ada)
    ada.get_by_role("button", name="Add class").click()
    ada.locator('[data-testid="stAlertContentSuccess"]', has_text="Added").wait_for()
    area = ada.locator('[data-testid="stMain"]').get_by_label("Guidelines for annotators", exact=True)
    area.fill("Label the product's quality, not the delivery.")
    area.press("Control+Enter")
    harness.wait_idle(ada)
    ada.get_by_role("button", name="Save guidelines").click()
    ada.locator('[data-testid="stAlertContentSuccess"]', has_text="version 1").wait_for()
    no_traceback(ada)
    assert [r[0] for r in db.execute("SELECT name FROM classes ORDER BY position")] == [
        "alpha", CLASSES[1], CLASSES[2], "neutral"]
    assert {r[0] for r in db.execute("SELECT label FROM annotations")} == {"alpha", CLASSES[2]}
    assert db.execute("SELECT author FROM guideline_versions").fetchall() == [("ada",)]
    ann1 = signed_in("ann1")
    harness.open_page(ann1, "Annotate")  # the annotator's buttons carry the new names, and the guidelines
    buttons = ann1.locator('[data-testid="stMain"]').get_by_role("button")
    buttons.filter(has_text="neutral").first.wait_for(timeout=30_000)  # drawn at the end of the run, late on a loaded box
    assert buttons.filter(has_text="alpha").count() == 1 and buttons.filter(has_text="neutral").count() == 1
    assert ann1.locator('[data-testid="stExpander"]', has_text="Guidelines").count() == 1
