"""Team mode in a real Chromium: an admin creates accounts and sets overlap, two annotators label side
by side in two browser contexts, a reviewer settles a disagreement, the export holds both kinds of label."""
import json
import re
import sqlite3
import time

import pandas as pd
import pytest

from core import store
from tests.browser import harness
from tests.browser.test_annotate_browser import CLASSES, reviews, seed_projects

pytestmark = pytest.mark.browser
PASSWORD = "browser-test-pass"
SIGNED_IN = '[data-testid="stSidebar"] >> text=Signed in as'


def submit_form(page, fields: dict, button: str) -> None:
    main = page.locator('[data-testid="stMain"]')
    for label, value in fields.items():
        main.get_by_label(label, exact=True).fill(value)
    main.get_by_role("button", name=button).click()
    harness.wait_idle(page)


def sign_in(browser, url: str, name: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    harness.goto(page, url)
    submit_form(page, {"Name": name, "Password": PASSWORD}, "Sign in")
    page.locator(SIGNED_IN).wait_for()  # the reload after the sign-in cookie is set
    harness.wait_idle(page)
    return context, page


def test_admin_annotators_overlap_adjudication_export(app_factory, browser, tmp_path):
    data_dir = tmp_path / "data"
    frame = reviews()
    seed_projects(data_dir, ("reviews", frame, CLASSES))
    app = app_factory(data_dir)
    contexts = []
    try:
        admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(admin_context)
        admin = admin_context.new_page()
        harness.goto(admin, app.url)
        harness.open_page(admin, "Team")
        submit_form(admin, {"Admin name": "ada", "Password": PASSWORD}, "Create admin and sign in")
        admin.locator(SIGNED_IN).wait_for()
        harness.wait_idle(admin)
        for name, role in (("ann1", "annotator"), ("ann2", "annotator"), ("rev", "reviewer")):
            main = admin.locator('[data-testid="stMain"]')
            if role != "annotator":
                harness.choose(admin, "Role", role, scope='[data-testid="stMain"]')
            else:
                main.get_by_role("combobox", name="Projects (annotators)").click()
                admin.get_by_role("option", name="reviews").click()
            submit_form(admin, {"Name": name, "Password": PASSWORD}, "Create account")
        harness.open_page(admin, "Settings")  # the session survives page switches
        box = admin.locator('[data-testid="stNumberInput"]', has_text="Overlap").locator("input")
        box.fill("20")
        box.press("Enter")
        harness.wait_idle(admin)
        admin.get_by_role("button", name="Save settings").click()
        admin.locator('[data-testid="stAlertContentSuccess"]', has_text="Saved").wait_for(timeout=60_000)
        harness.wait_idle(admin)
        db = sqlite3.connect(f"file:{data_dir / 'sieve.db'}?mode=ro", uri=True, timeout=5)
        assert json.loads(db.execute("SELECT settings FROM projects").fetchone()[0])["overlap"] == 20
        assert {r[0] for r in db.execute("SELECT name FROM users")} == {"ada", "ann1", "ann2", "rev"}

        pages = {}
        for name in ("ann1", "ann2"):
            context, page = sign_in(browser, app.url, name)
            contexts.append(context)
            harness.open_page(page, "Annotate")
            pages[name] = page
        keys = {"ann1": "1", "ann2": "2"}  # they always disagree
        disagreement = None
        for _ in range(30):
            for name, page in pages.items():
                harness.press(page, keys[name])
            disagreement = db.execute(
                """SELECT example_id FROM annotations WHERE action = 'label' GROUP BY example_id
                   HAVING count(DISTINCT annotator) = 2 LIMIT 1""").fetchone()
            if disagreement:
                break
        assert disagreement, "no text reached both annotators with 20 % overlap"

        # An annotator typing an admin page's address gets no admin page (and no admin action).
        annotator = pages["ann1"]
        query = annotator.url.split("?", 1)[1]
        for path in ("settings", "team", "export", "adjudicate"):
            harness.goto(annotator, f"{app.url}/{path}?{query}")
            assert annotator.get_by_role("button", name="Save settings").count() == 0, path
            assert annotator.get_by_role("button", name="Create account").count() == 0, path
            assert annotator.get_by_role("button", name=re.compile("Download labels")).count() == 0, path
            assert annotator.locator("h1").first.inner_text().split(" · ")[0] not in (
                "Settings", "Team", "Export", "Adjudicate"), path
        harness.goto(annotator, f"{app.url}/annotate?{query}")

        context, reviewer = sign_in(browser, app.url, "rev")
        contexts.append(context)
        harness.open_page(reviewer, "Adjudicate")
        text = reviewer.locator('[data-testid="stMain"]').inner_text()
        assert "ann1" in text and "ann2" in text
        reviewer.get_by_role("button", name="Decide").first.click()
        harness.wait_idle(reviewer)
        deadline = time.time() + 20
        while time.time() < deadline and not db.execute("SELECT count(*) FROM adjudications").fetchone()[0]:
            time.sleep(0.2)
        assert db.execute("SELECT count(*) FROM adjudications").fetchone()[0] == 1
    finally:
        for context in contexts:
            context.close()

    import os
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    from core.files import exports
    from core.team import quality

    decided = store.connect().conn.execute("SELECT example_id, label FROM adjudications").fetchone()
    frame = exports.labels_frame(store.connect(), [p["id"] for p in store.projects(store.connect())][0])
    row = frame[frame["example_id"] == decided[0]].iloc[0]
    assert row["label"] == decided[1] and row["label_source"] == quality.ADJUDICATION
    assert {a["annotator"] for a in json.loads(row["annotators"])} == {"ann1", "ann2"}
    assert set(frame["label_source"]) <= {"single", "adjudication", "unanimous", "majority", "disputed"}
    assert isinstance(frame, pd.DataFrame)
