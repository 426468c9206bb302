"""The Model page in a real Chromium: its charts draw marks, a pinned version is what annotators get and
what is exported, and predictions on an uploaded file match SetFit's own `predict` on the exported model
in a fresh process."""
import io as stdio
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from core import store
from core.labeling import annotate
from core.team import auth
from tests.browser import harness
from tests.browser.test_annotate_browser import CLASSES, KEYS, project_db, reviews
from tests.conftest import make_project, wait_for, without_sieve

pytestmark = pytest.mark.browser

NEW_TEXTS = ["The kettle leaks and the handle snapped off.", "Lovely toaster, my mornings are better now.",
             "The lamp flickers and died within a week.", "Best headphones I have ever owned.",
             "Umbrella turned inside out at the first gust, useless.", "This backpack is comfortable and tough."]

# Every chart on the page: how many marks it drew (SVG paths / texts, or lit canvas pixels).
CHART_MARKS = """() => [...document.querySelectorAll('[data-testid="stMain"] .vega-embed')]
    .filter(e => e.offsetParent !== null).map(e => {
        const svg = e.querySelector('svg');
        if (svg) return svg.querySelectorAll('g[class*="mark-"] path, g[class*="mark-"] text').length;
        const canvas = e.querySelector('canvas');
        if (!canvas || !canvas.width) return 0;
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let lit = 0;
        for (let i = 3; i < data.length; i += 4 * 16) if (data[i] > 0) lit++;
        return lit;
    })"""


def seed(data_dir) -> None:
    """60 reviews, 12 of them an eval sample; 10 pool and every eval text labeled (by the gold labels)."""
    previous = os.environ.get("SIEVE_DATA_DIR")
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    try:
        frame = reviews()
        gold = dict(zip(frame["text"], frame["label"]))
        db = store.connect()
        pid = make_project(db, frame, CLASSES, name="reviews", eval_fraction=0.2)
        texts = store.texts_by_id(db, store.example_ids(db, pid))
        pool = store.example_ids(db, pid, store.Split.POOL)
        chosen = [i for i in pool if gold[texts[i]] == "positive"][:5] + \
                 [i for i in pool if gold[texts[i]] == "negative"][:5]
        for example_id in chosen + store.example_ids(db, pid, store.Split.EVAL):
            annotate.submit_label(db, auth.local_actor("seed"), pid, annotate.NextText.direct(example_id), gold[texts[example_id]])
    finally:
        if previous is None:
            os.environ.pop("SIEVE_DATA_DIR", None)
        else:
            os.environ["SIEVE_DATA_DIR"] = previous




def versions(app) -> list[int]:
    with project_db(app) as conn:
        return [r[0] for r in conn.execute("SELECT number FROM model_versions ORDER BY number")]


def label_some(page, gold: dict, n: int) -> None:
    for _ in range(n):
        harness.press(page, KEYS[gold[harness.shown_text(page)]])


def test_model_page_pin_export_and_predict_round_trip(app_factory, page, screenshots, tmp_path):
    data_dir = tmp_path / "data"
    seed(data_dir)
    app = app_factory(data_dir)
    gold = dict(zip(reviews()["text"], reviews()["label"]))
    harness.goto(page, app.url)  # the app starts its worker
    wait_for(lambda: versions(app), 240, "the first version (embedding and a head refit)")

    # Annotate with the keyboard until a second version is published.
    harness.open_page(page, "Annotate")
    label_some(page, gold, 5)
    wait_for(lambda: len(versions(app)) >= 2, 120, "a second version")
    harness.screenshot(page, screenshots, "annotate")

    # Charts: learning curve, per-class bars, confusion matrix, labels over time, all with marks.
    harness.open_page(page, "Model")
    page.locator(".vega-embed").first.wait_for()
    page.wait_for_timeout(1500)
    marks = page.evaluate(CHART_MARKS)
    assert len(marks) >= 4 and all(m > 3 for m in marks), marks
    harness.screenshot(page, screenshots, "model")

    # Pin version 1: annotators get its queue, exports take it.
    page.get_by_role("tab", name="Versions").click()
    harness.wait_idle(page)
    harness.choose(page, "Version to serve and export", "1")
    page.get_by_role("button", name="Pin this version").click()
    page.get_by_text("Version 1 is pinned by annotator").wait_for()  # fails if the click was lost
    harness.wait_idle(page)
    with project_db(app) as conn:
        v1_path = conn.execute("SELECT path FROM model_versions WHERE number = 1").fetchone()[0]
        assert conn.execute("SELECT pinned_by FROM version_pins ORDER BY id DESC").fetchone()[0] == "annotator"
    harness.screenshot(page, screenshots, "model-versions")
    harness.open_page(page, "Annotate")
    page.get_by_text("Model: version 1 ").wait_for()
    label_some(page, gold, 2)
    with project_db(app) as conn:
        v1_id = conn.execute("SELECT id FROM model_versions WHERE number = 1").fetchone()[0]
        shown_with = [r[0] for r in conn.execute(
            "SELECT model_version_id FROM annotations WHERE annotator = 'annotator' ORDER BY id DESC LIMIT 2")]
        texts = dict(conn.execute("SELECT text, id FROM examples"))
    assert shown_with == [v1_id, v1_id], "labels are given with the pinned version's suggestions"
    assert texts[harness.shown_text(page)] in np.load(f"{v1_path}/queue.npy").tolist(), "the pinned version's queue"

    harness.open_page(page, "Export")
    page.get_by_text("pinned by annotator").wait_for()
    page.get_by_role("button", name="Prepare model zip").click()
    download_button = page.get_by_role("button", name="Download model (zip)")
    download_button.wait_for(timeout=240_000)
    with page.expect_download() as info:
        download_button.click()
    harness.screenshot(page, screenshots, "export")
    with zipfile.ZipFile(info.value.path()) as archive:
        archive.extractall(tmp_path / "unzipped")
    [model_dir] = list((tmp_path / "unzipped").iterdir())  # one top-level folder
    card = (model_dir / "README.md").read_text()
    assert "# Sieve model: version 1 " in card and "95 % CI" in card

    # Predict on new data with the pinned version, through the worker, and download the predictions.
    harness.open_page(page, "Model")
    page.get_by_role("tab", name="Predict on new data").click()
    harness.wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "new.csv", "mimeType": "text/csv",
                "buffer": pd.DataFrame({"text": NEW_TEXTS}).to_csv(index=False).encode()}])
    page.get_by_role("button", name="Predict", exact=True).wait_for()
    harness.wait_idle(page)
    page.get_by_role("button", name="Predict", exact=True).click()
    button = page.get_by_role("button", name="Download predictions (csv)")
    button.wait_for(timeout=240_000)
    with page.expect_download() as info:
        button.click()
    predicted = pd.read_csv(stdio.BytesIO(open(info.value.path(), "rb").read()))
    assert predicted["text"].tolist() == NEW_TEXTS
    assert np.allclose(predicted[[f"p({c})" for c in CLASSES]].sum(1), 1, atol=1e-4)

    # The same texts through SetFit's own loader in a fresh process.
    code = ("import json, sys; from setfit import SetFitModel; "
            f"m = SetFitModel.from_pretrained({str(model_dir)!r}); "
            f"print(json.dumps([str(x) for x in m.predict({NEW_TEXTS!r})]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            **without_sieve())
    assert result.returncode == 0, result.stderr[-2000:]
    assert predicted["predicted"].tolist() == json.loads(result.stdout.strip().splitlines()[-1])

    # Unpin: labeling follows the newest version again.
    def pin_row():
        with project_db(app) as conn:
            return conn.execute("SELECT version_id FROM version_pins ORDER BY id DESC").fetchone()[0]

    page.get_by_role("tab", name="Versions").click()
    harness.wait_idle(page)
    page.get_by_role("button", name="Unpin: follow the newest").click()
    wait_for(lambda: pin_row() is None, 30, "the unpin")
    harness.wait_idle(page)
    harness.open_page(page, "Annotate")
    label_some(page, gold, 1)
    with project_db(app) as conn:
        newest = conn.execute("SELECT id FROM model_versions ORDER BY label_watermark DESC, number DESC").fetchone()[0]
        last = conn.execute("SELECT model_version_id FROM annotations ORDER BY id DESC LIMIT 1").fetchone()[0]
        assert conn.execute("SELECT version_id FROM version_pins ORDER BY id DESC").fetchone()[0] is None
    assert last != v1_id and last <= newest


def seed_two_fake_versions(data_dir) -> None:
    """A project with two published versions (stored probabilities, no model): the pin needs versions,
    not training, so no worker runs."""
    from tests.unit.test_registry import REGISTRY_PROJECT, fake_encoder, fake_version

    previous = os.environ.get("SIEVE_DATA_DIR")
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    try:
        db = store.connect()
        pid = make_project(db, **REGISTRY_PROJECT)
        encoder_id, ids = fake_encoder(db, pid)
        fake_version(db, pid, encoder_id, ids, np.zeros(len(ids), int), queue=[])
        fake_version(db, pid, encoder_id, ids, np.arange(len(ids)) % 2, queue=[])
    finally:
        if previous is None:
            os.environ.pop("SIEVE_DATA_DIR", None)
        else:
            os.environ["SIEVE_DATA_DIR"] = previous


def served_column(runs) -> list[list[str]]:
    """The 'served' column of every versions table the runs drew."""
    return [table["served"].tolist() for _, messages in runs for table in harness.dataframes(messages)
            if "served" in table.columns]


def test_pin_and_unpin_show_in_the_clicks_own_run(app_factory, page, tmp_path):
    """Issue 20: the pin took 7-8 s to show and after Unpin the page still said "pinned" 1.5 s later. The
    buttons called st.rerun(): the click's run drew the old state, was cut short, and a second run drew
    the new one. As on_click callbacks the click's own run draws the new state, and nothing stale
    comes after it."""
    data_dir = tmp_path / "data"
    seed_two_fake_versions(data_dir)
    app = app_factory(data_dir, env={"SIEVE_WORKER": "external"})
    sent = harness.ForwardMessages(page)
    harness.goto(page, app.url)
    harness.open_page(page, "Model")
    page.get_by_role("tab", name="Versions").click()
    harness.wait_idle(page)
    harness.choose(page, "Version to serve and export", "1")

    mark = sent.mark()
    page.get_by_role("button", name="Pin this version").click()
    page.get_by_text("Version 1 is pinned by annotator").wait_for()
    harness.wait_idle(page)
    full = sent.full_runs(mark)
    assert [end for end, _ in full] == ["FINISHED_SUCCESSFULLY"], [end for end, _ in full]  # one run, not cut short
    assert served_column(full) == [["", "pinned"]], served_column(full)  # newest first: version 2, then 1
    assert "is pinned by annotator" in harness.texts(full[0][1])

    mark = sent.mark()
    page.get_by_role("button", name="Unpin: follow the newest").click()
    page.get_by_text("is pinned by").wait_for(state="detached")
    harness.wait_idle(page)
    page.wait_for_timeout(1500)
    full = sent.full_runs(mark)
    assert [end for end, _ in full] == ["FINISHED_SUCCESSFULLY"], [end for end, _ in full]
    assert served_column(full) == [["yes", ""]], served_column(full)
    assert "is pinned by" not in harness.texts(full[0][1])
    assert not page.get_by_text("is pinned by").count(), "a stale 'pinned' 1.5 s after Unpin"
    with project_db(app) as conn:
        assert conn.execute("SELECT count(*) FROM version_pins").fetchone()[0] >= 1
