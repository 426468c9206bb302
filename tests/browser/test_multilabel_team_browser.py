"""Adjudication per label in a real Chromium (issue 21): two annotators' sets of a multi-label
project (real debtags texts) disagree on one label; a signed-in reviewer opens Adjudicate, sees who
gave what, decides the disputed label "in" by clicks, and the labels export holds the decided set."""
import io as stdio

import pandas as pd
import pytest

from core import store
from core.files import multilabel_io
from core.labeling import annotate, multilabel
from core.learning import labelsets
from core.team import auth, projects
from tests.browser import harness
from tests.conftest import multilabel_dataset

pytestmark = pytest.mark.browser
TAGS = ["works-with::text", "use::editing", "works-with::audio", "use::gameplaying"]
PASSWORD = "browser-test-pass"


def seed(data_dir, monkeypatch) -> tuple[str, list[str], list[str]]:
    """A multi-label project of 6 debtags texts; on the first, ann1 gives its two tags and ann2 one
    (a tie on the other: out until decided). Returns (that text, ann1's set, ann2's set)."""
    frame = multilabel_dataset("train")
    sets = [[t for t in labelsets.parse_cell(c) if t in TAGS] for c in frame["labels"]]
    keep = [i for i, s in enumerate(sets) if len(s) >= 2][:1] + [i for i, s in enumerate(sets) if len(s) == 1][:5]
    texts = frame["text"].iloc[keep].str.strip().tolist()
    monkeypatch.setenv("SIEVE_DATA_DIR", str(data_dir))
    db = store.connect()
    plan = multilabel_io.plan_import(pd.DataFrame({"text": texts}), "text", None, sorted(TAGS))
    pid = multilabel_io.create_project(db, auth.local_actor(), "debtags", plan, eval_fraction=0.0)
    projects.update_settings(db, auth.local_actor(), pid, {"overlap": 100})
    first = next(e for e in store.example_ids(db, pid, store.Split.POOL) if store.example(db, int(e))["text"] == texts[0])
    both, one = sorted(sets[keep[0]]), sorted(sets[keep[0]])[:1]
    for who, labels in (("ann1", both), ("ann2", one)):
        multilabel.submit_labels(db, auth.local_actor(who), pid, annotate.NextText.direct(int(first)), labels)
    ada = auth.create_user(db, None, "ada", PASSWORD, auth.ADMIN)
    auth.create_user(db, ada, "rev", PASSWORD, auth.REVIEWER)
    db.conn.close()
    return texts[0], both, one


def test_a_reviewer_decides_a_disputed_label_by_clicks_and_the_export_has_it(app_factory, page, screenshots,
                                                                               tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    text, both, one = seed(data_dir, monkeypatch)
    [disputed] = [t for t in both if t not in one]
    app = app_factory(data_dir, env={"SIEVE_WORKER": "external"})  # no model needed: nothing to embed
    harness.goto(page, app.url)
    harness.sign_in(page, "rev", PASSWORD)
    harness.open_page(page, "Adjudicate")
    main = harness.main_text(page)
    assert text in main and "ann1" in main and "ann2" in main
    assert "Given by ann1; left out by ann2 (tie: out until decided)." in main
    group = page.locator('[data-testid="stRadio"]', has_text=disputed)
    assert group.count() == 1  # only the disputed label is asked about
    group.get_by_text("in", exact=True).click()
    harness.wait_idle(page)
    harness.screenshot(page, screenshots, "multilabel-adjudicate")
    page.get_by_role("button", name="Decide these labels").click()
    page.locator('[data-testid="stAlertContentSuccess"]', has_text="No disputed labels").wait_for(timeout=30_000)
    harness.wait_idle(page)

    harness.open_page(page, "Export")
    page.get_by_text("jsonl", exact=True).click()
    harness.wait_idle(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download labels (jsonl)").click()
    exported = pd.read_json(stdio.BytesIO(open(info.value.path(), "rb").read()), lines=True)
    row = exported[exported["text"] == text].iloc[0]
    assert list(row["labels"]) == both and row["label_source"] == "adjudication"  # before: one (the tie out)
