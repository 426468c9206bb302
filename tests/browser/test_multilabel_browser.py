"""Done-when of issue 21, in a real Chromium: a multi-label project from a file with a labels
column, labeled by keyboard (class keys toggle, Enter saves, 0 = none of these), a model on the
Model page, the labels exported (list columns round-trip exactly) and a model zip that loads
outside Sieve and predicts the same label sets as the app."""
import io as stdio
import json
import subprocess
import sys
import time
import zipfile

import pandas as pd
import pytest

from core import store
from core.files import multilabel_export
from core.learning import labelsets
from tests.browser import harness
from tests.browser.test_annotate_browser import project_db, require
from tests.conftest import multilabel_dataset, without_sieve

pytestmark = pytest.mark.browser
TAGS = ["works-with::text", "use::editing", "works-with::audio", "use::gameplaying"]


def tickets() -> pd.DataFrame:
    """Real debtags texts whose tags include one of TAGS, the labels column reduced to TAGS; the
    first 40 arrive labeled, the rest (50) are for the keyboard."""
    frame = multilabel_dataset("train")
    sets = [[t for t in labelsets.parse_cell(c) if t in TAGS] for c in frame["labels"]]
    keep = [i for i, s in enumerate(sets) if s][:90]
    out = pd.DataFrame({"text": frame["text"].iloc[keep].str.strip().tolist(),
                        "labels": ["|".join(sets[i]) for i in keep]})
    out.loc[40:, "labels"] = ""
    return out


def toggle(page, key: str, name: str) -> None:
    page.evaluate("() => { if (document.activeElement) document.activeElement.blur(); }")
    page.keyboard.press(key)
    page.locator("button", has_text="✓ " + name).wait_for(timeout=30_000)
    harness.wait_idle(page)


def test_multilabel_project_by_keyboard_export_and_model(app, page, screenshots, tmp_path, monkeypatch):
    frame = tickets()
    harness.goto(page, app.url)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "debtags.csv", "mimeType": "text/csv", "buffer": frame.to_csv(index=False).encode()}])
    page.get_by_text("Project type").wait_for()
    harness.wait_idle(page)
    page.get_by_text("Multi-label: a set of classes per text").click()
    harness.wait_idle(page)
    harness.choose(page, "Labels column (optional; sets joined by |, ; or a JSON list)", "labels")
    page.get_by_role("button", name="Create project").click()
    page.locator('[data-testid="stAlertContentSuccess"]', has_text="Created").wait_for()
    harness.wait_idle(page)
    with project_db(app) as conn:
        require(conn.execute("SELECT kind FROM projects").fetchone()[0] == "multi", "a multi-label project")
        names = [r[0] for r in conn.execute("SELECT name FROM classes ORDER BY position")]
    require(names == sorted(TAGS), f"classes from the labels column: {names}")
    expected = {t: labelsets.parse_cell(s) for t, s in zip(frame["text"], frame["labels"]) if s}

    harness.open_page(page, "Annotate")
    typed = []
    for round_ in range(6):
        current = harness.shown_text(page)
        assert current in set(frame["text"]) and current not in expected
        if round_ % 3 == 1:
            answer = []
            after = harness.press(page, "0")  # none of these
        else:
            picks = [0, 2] if round_ % 3 == 0 else [1]
            for j in picks:
                toggle(page, str(j + 1), names[j])
            answer = [names[j] for j in picks]
            after = harness.press(page, "Enter")
        typed.append((current, answer))
        expected[current] = answer
        assert after != current
    harness.screenshot(page, screenshots, "multilabel-annotate")

    # a model: the worker refits once the pool is embedded (imported labels queue a refit)
    deadline = time.time() + 240
    while time.time() < deadline:
        with project_db(app) as conn:
            if conn.execute("SELECT count(*) FROM model_versions").fetchone()[0]:
                break
        time.sleep(1)
    harness.open_page(page, "Model")
    require("one-vs-rest heads" in harness.main_text(page), "the Model page shows the multi-label version")
    harness.screenshot(page, screenshots, "multilabel-model")

    harness.open_page(page, "Export")
    page.get_by_text("jsonl", exact=True).click()
    harness.wait_idle(page)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download labels (jsonl)").click()
    exported = pd.read_json(stdio.BytesIO(open(info.value.path(), "rb").read()), lines=True)
    got = {t: list(s) for t, s in zip(exported["text"], exported["labels"])}
    assert got == expected  # list columns, exactly what was imported and typed
    assert [got[t] for t, _ in typed] == [a for _, a in typed]

    # Refits after the typed labels may still run: let them finish, so the zip and the app's
    # predictions below come from the same version.
    deadline = time.time() + 240
    while time.time() < deadline:
        with project_db(app) as conn:
            if not conn.execute("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')").fetchone()[0]:
                break
        time.sleep(1)
    page.reload()
    harness.wait_idle(page)
    page.get_by_role("button", name="Prepare model zip").click()
    button = page.get_by_role("button", name="Download model (zip)")
    button.wait_for(timeout=240_000)
    with page.expect_download() as info:
        button.click()
    folder = tmp_path / "model"
    with zipfile.ZipFile(info.value.path()) as archive:
        archive.extractall(folder)
    [model_dir] = [p.parent for p in folder.rglob("predict.py")]
    texts = multilabel_dataset("test", n=30)["text"].tolist()
    monkeypatch.setenv("SIEVE_DATA_DIR", str(app.data_dir))  # the app's own prediction path, on its store
    db = store.connect()
    [project] = store.projects(db)
    version = store.current_version(db, project["id"])
    app_sets = multilabel_export.predict_sets(db, version, texts)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import predict; "
            "print(json.dumps(predict.predict(json.load(open(sys.argv[2])), sys.argv[1])))")
    result = subprocess.run([sys.executable, "-c", code, str(model_dir), str(tmp_path / "texts.json")],
                            capture_output=True, text=True, timeout=300, **without_sieve())
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == app_sets


KEYS_FAST = """([keys, gap]) => new Promise(done => {  // resolves once the last key has been pressed
    if (document.activeElement) document.activeElement.blur();
    const start = performance.now();
    keys.forEach((key, i) => setTimeout(() => {
        const code = key === 'Enter' ? 'Enter' : 'Digit' + key;
        for (const type of ['keydown', 'keyup'])
            document.body.dispatchEvent(new KeyboardEvent(type, {key, code, bubbles: true, cancelable: true}));
        if (i === keys.length - 1) done(performance.now() - start);
    }, i * gap));
})"""


def test_fast_toggles_and_saves_store_each_set_once_on_its_own_text(app_factory, page, tmp_path):
    """Toggle, Enter, toggle, Enter... a few ms apart (issue 20's fast-key bug, on the multi-label page):
    Streamlit stops a run at any session-state access and starts the next alongside it, so a save
    stopped after its label but before it moved on let the next Enter save the same text again, and a
    toggle could land on the next text. Each stored set must be on a text of its own, hold only the
    classes toggled for it (in order: no set mixes two presses' classes), and the page must show an
    unanswered text afterwards. A press Streamlit drops before Sieve's code runs stores nothing."""
    import os

    from core.files import multilabel_io
    from core.team import auth

    frame = tickets().iloc[40:][["text"]].assign(labels="")
    data_dir = tmp_path / "data"
    previous = os.environ.get("SIEVE_DATA_DIR")
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    try:
        db = store.connect()
        plan = multilabel_io.plan_import(frame, "text", "labels", classes=TAGS)
        multilabel_io.create_project(db, auth.local_actor(), "fast", plan)
    finally:
        if previous is None:
            os.environ.pop("SIEVE_DATA_DIR", None)
        else:
            os.environ["SIEVE_DATA_DIR"] = previous
    app = app_factory(data_dir)
    harness.goto(page, app.url)
    harness.open_page(page, "Annotate")
    toggle(page, "1", TAGS[0])  # one set the ordinary way first: the page is warm
    harness.press(page, "Enter")  # focus on the page, not on the toggled button; waits for the next text
    stored = 0
    for burst in (["1", "Enter", "2", "Enter", "3", "Enter"], ["2", "Enter", "2", "3", "Enter", "0"]):
        page.evaluate(KEYS_FAST, [burst, 20])
        settled, last, deadline = 0.0, None, time.monotonic() + 60
        while time.monotonic() < deadline and time.monotonic() - settled < 2.0:  # no new row for 2 s
            with project_db(app) as conn:
                count = conn.execute("SELECT count(*) FROM annotations").fetchone()[0]
            if count != last:
                last, settled = count, time.monotonic()
            time.sleep(0.1)
        harness.wait_idle(page)
        with project_db(app) as conn:
            rows = conn.execute("SELECT example_id, label FROM annotations WHERE action = 'label' ORDER BY id").fetchall()
            texts = {r[0] for r in conn.execute("SELECT e.text FROM annotations a JOIN examples e ON e.id = a.example_id")}
        assert len({example_id for example_id, _ in rows}) == len(rows), f"a text was labeled twice: {rows}"
        for _, cell in rows:
            assert set(json.loads(cell)) <= set(TAGS[:3]), cell  # only classes that were toggled
        stored = len(rows)
        shown = harness.shown_text(page)
        assert shown and shown not in texts, "the page shows a text already answered"
    # How many burst presses Streamlit drops before Sieve sees them depends on the machine's load (a
    # dropped press stores nothing); what must hold is above. The ordinary set is always stored.
    assert stored >= 1, f"{stored} sets stored"
