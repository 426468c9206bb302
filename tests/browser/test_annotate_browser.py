"""The app in a real Chromium, driven like a person: upload, label with the keyboard, undo, skip, export.

Tests e-h guard what a first browser run found broken (issue 10: a new model shown only after a key
press, a reload forgetting the name, two annotators handed the same text, names rendered as Markdown).
"""
import io as stdio
import re
import sqlite3
import time

import pandas as pd
import pytest

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the tests are skipped (conftest says why); collection must still work
    PlaywrightTimeout = Exception

from core import store
from tests.conftest import make_project
from tests.browser import harness

pytestmark = pytest.mark.browser

PRODUCTS = ["blender", "kettle", "toaster", "headphones", "backpack", "lamp", "keyboard", "umbrella",
            "water bottle", "desk chair"]
POSITIVE = ["The {} works perfectly and I love it.", "Great {}, sturdy and worth every penny.",
            "My new {} exceeded all my expectations."]
NEGATIVE = ["The {} broke after two days, very disappointed.", "Terrible {}, cheap plastic and a waste of money.",
            "My {} arrived damaged and support never answered."]
CLASSES = ["positive", "negative"]  # shortcuts "1" and "2", in this order
KEYS = {"positive": "1", "negative": "2"}


def reviews() -> pd.DataFrame:
    """60 short two-class product reviews; the label column is there to be ignored ("(none)")."""
    rows = [(t.format(p), "positive") for t in POSITIVE for p in PRODUCTS]
    rows += [(t.format(p), "negative") for t in NEGATIVE for p in PRODUCTS]
    return pd.DataFrame(rows, columns=["text", "label"])


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def require(condition, message: str):
    """A set-up step that must hold; its failure is a real failure, never an expected one."""
    if not condition:
        pytest.fail(message, pytrace=False)
    return condition


def create_project_in_ui(page, url: str, frame: pd.DataFrame, filename: str, classes: str,
                         name: str | None = None) -> None:
    """Projects page: upload, label column "(none)", type the classes (and a name), Create."""
    harness.goto(page, url)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": filename, "mimeType": "text/csv", "buffer": csv_bytes(frame)}])
    page.get_by_text("Label column (optional").wait_for()
    harness.wait_idle(page)
    harness.choose(page, "Label column", "(none)")
    spec = page.locator('[data-testid="stTextInput"]', has_text="Classes").locator("input")
    spec.fill(classes)
    spec.press("Enter")
    harness.wait_idle(page)
    if name is not None:
        box = page.locator('[data-testid="stTextInput"]', has_text="Project name").locator("input")
        box.fill(name)
        box.press("Enter")
        harness.wait_idle(page)
    page.get_by_role("button", name="Create project").click()
    page.locator('[data-testid="stAlertContentSuccess"]', has_text="Created").wait_for()
    harness.wait_idle(page)


def project_db(app: harness.App) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{app.data_dir / 'sieve.db'}?mode=ro", uri=True, timeout=5)


def seed_projects(data_dir, *projects):
    """Create projects through core before the app starts (faster than the UI where the UI is not under test)."""
    import os

    previous = os.environ.get("SIEVE_DATA_DIR")
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    try:
        db = store.connect()
        for name, frame, classes in projects:
            make_project(db, frame, classes, name=name)
    finally:
        if previous is None:
            os.environ.pop("SIEVE_DATA_DIR", None)
        else:
            os.environ["SIEVE_DATA_DIR"] = previous


# --------------------------------------------------------------------------- a-d: the main flow


def test_create_label_undo_skip_export(app, page, screenshots, tmp_path):
    frame = reviews()
    gold = dict(zip(frame["text"], frame["label"]))

    # a. Create the project from an upload, then open Annotate.
    create_project_in_ui(page, app.url, frame, "reviews.csv", ", ".join(CLASSES))
    harness.screenshot(page, screenshots, "projects")
    with project_db(app) as conn:
        require(conn.execute("SELECT count(*) FROM examples").fetchone()[0] == 60, "60 texts imported")
        require(conn.execute("SELECT count(*) FROM annotations").fetchone()[0] == 0,
                "no labels imported (label column is (none))")
    harness.open_page(page, "Annotate")
    assert page.locator("h1").inner_text() == "Annotate · reviews"
    assert page.get_by_role("button", name="positive").count() == 1
    assert page.get_by_role("button", name="negative").count() == 1
    # Issue 10 item 12: no "Deploy" button for annotators, and Undo's label is not cut off by its key hint.
    assert page.get_by_role("button", name="Deploy").count() == 0
    undo = page.get_by_role("button", name=re.compile(r"^Undo"))
    assert undo.count() == 1
    assert undo.evaluate("b => [...b.querySelectorAll('*')].every(e => e.scrollWidth <= e.clientWidth + 1)"), \
        "the Undo button's label overflows its box"

    # b. Label 20 texts with the keyboard only; undo once (relabel it the other way); skip once.
    expected: dict[str, str] = {}
    history = []  # (text shown, key pressed)
    current = harness.shown_text(page)
    assert current in gold
    undone = skipped = None
    while len(expected) < 20:
        if len(expected) == 8 and undone is None:
            # Undo the label just given: that text comes back; give it the other label.
            undone = history[-1][0]
            current = harness.press(page, "Backspace")
            history.append((undone, "Backspace"))
            assert current == undone, "undo brings back the text just labeled"
            other = "negative" if expected[undone] == "positive" else "positive"
            expected[undone] = other
            history.append((current, KEYS[other]))
            current = harness.press(page, KEYS[other])
            continue
        if len(expected) == 12 and skipped is None:
            skipped = current
            history.append((current, "ArrowRight"))
            current = harness.press(page, "ArrowRight")
            assert current != skipped
            continue
        assert current not in expected and current != skipped, f"{current!r} shown again"
        label = gold[current]
        expected[current] = label
        history.append((current, KEYS[label]))
        current = harness.press(page, KEYS[label])
        assert current in gold
    harness.screenshot(page, screenshots, "annotate")
    shown = harness.main_text(page)
    pool_labels = int(re.search(r"\bLabels\s+(\d+)", shown).group(1))
    eval_labels = int(re.search(r"Eval labels\s+(\d+) /", shown).group(1))
    assert pool_labels + eval_labels == 20 and eval_labels >= 1  # one text in ten comes from the eval sample

    harness.open_page(page, "Model")
    harness.screenshot(page, screenshots, "model")

    # c. Export: the labels CSV holds exactly what was typed.
    harness.open_page(page, "Export")
    harness.screenshot(page, screenshots, "export")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download labels (csv)").click()
    download = download_info.value
    assert download.suggested_filename == "reviews-labels.csv"
    exported = pd.read_csv(stdio.BytesIO(open(download.path(), "rb").read()), dtype=str, keep_default_na=False)
    got = dict(zip(exported["text"], exported["label"]))
    assert len(exported) == 20
    assert got == expected
    assert got[undone] != gold[undone]  # relabeled after the undo
    assert skipped not in got
    assert set(exported["annotator"]) == {"annotator"}


# --------------------------------------------------------------------------- e-h: issue 10 items 6, 7, 16, 11


def test_model_version_appears_without_interaction(app_factory, page, tmp_path):
    data_dir = tmp_path / "data"
    frame = reviews()
    gold = dict(zip(frame["text"], frame["label"]))
    seed_projects(data_dir, ("reviews", frame, CLASSES))
    app = app_factory(data_dir)
    harness.goto(page, app.url)
    harness.open_page(page, "Annotate")
    require("No model yet" in harness.main_text(page), "no model before any label")
    given = {"positive": 0, "negative": 0}
    current = harness.shown_text(page)
    while min(given.values()) < 2 or sum(given.values()) < 5:  # two of each class, five in all (refit_every)
        label = gold[current]
        if given[label] >= 3 and min(given.values()) < 2:
            current = harness.press(page, "ArrowRight")
            continue
        given[label] += 1
        current = harness.press(page, KEYS[label])
    # The worker publishes a head version within seconds; the page must show it without a key press.
    deadline = time.time() + 60
    with project_db(app) as conn:
        while time.time() < deadline and not conn.execute("SELECT count(*) FROM model_versions").fetchone()[0]:
            time.sleep(0.5)
        require(conn.execute("SELECT count(*) FROM model_versions").fetchone()[0],
                "the worker published no model version within 60 s")
    # The sidebar already polls every 2 s; a page that follows the store shows the version within
    # seconds of its publication. Give it 15 s, without touching the page.
    try:
        page.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"]').innerText"
                               ".includes('Model: version')", timeout=15_000)
    except PlaywrightTimeout:
        pass
    text = harness.main_text(page)
    assert "No model yet" not in text and "Model: version" in text, \
        "a version was published but the Annotate page still says 'No model yet'"


def test_reload_keeps_name_and_project(app_factory, page, tmp_path):
    data_dir = tmp_path / "data"
    seed_projects(data_dir, ("alpha", reviews(), CLASSES), ("beta", reviews().head(20), CLASSES))
    app = app_factory(data_dir)
    harness.goto(page, app.url)
    project_box = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Project")
    require(project_box.input_value() == "beta", "the last project is selected at first")
    harness.choose(page, "Project", "alpha", scope='[data-testid="stSidebar"]')
    harness.set_name(page, "alice")
    harness.open_page(page, "Annotate")
    require(page.locator("h1").inner_text() == "Annotate · alpha", "alpha selected before the reload")
    harness.press(page, "1")

    page.reload()
    harness.wait_idle(page)
    page.locator("h1").wait_for()
    name = page.locator('[data-testid="stSidebar"] [data-testid="stTextInput"]', has_text="Your name") \
        .locator("input").input_value()
    title = page.locator("h1").inner_text()
    assert (name, title) == ("alice", "Annotate · alpha")


def test_two_annotators_never_see_the_same_text(app_factory, browser, tmp_path):
    """Two people, two browsers, one project, labeling side by side.

    Taking turns (one key press, wait, the other) never collides today; pressing at the same moment
    does, in about one round in five. Rounds stop at the first collision, so the failing case is quick
    and the fixed case runs all rounds (a collision-free fixed app passes; a still-broken one is
    missed with a probability of roughly 0.8**ROUNDS).
    """
    rounds = 25
    data_dir = tmp_path / "data"
    frame = reviews()
    frame = pd.concat([frame, frame.assign(text="Second order: " + frame["text"])], ignore_index=True)
    gold = dict(zip(frame["text"], frame["label"]))
    seed_projects(data_dir, ("reviews", frame, CLASSES))
    app = app_factory(data_dir)
    pages = {}
    contexts = []
    try:
        for name in ("ann-a", "ann-b"):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            contexts.append(context)
            page = context.new_page()
            harness.goto(page, app.url)
            harness.set_name(page, name)
            harness.open_page(page, "Annotate")
            pages[name] = page
        seen = {name: [harness.shown_text(page)] for name, page in pages.items()}
        together = [(seen["ann-a"][-1], seen["ann-b"][-1])]
        for _ in range(rounds):
            if together[-1][0] == together[-1][1] or set(seen["ann-a"]) & set(seen["ann-b"]):
                break
            # Both people press their key at the same moment, then each sees a new text.
            keys = [(page, KEYS[gold[harness.shown_text(page)]]) for page in pages.values()]
            texts = harness.press_together(keys)
            for name, text in zip(pages, texts):
                require(text in gold, f"{name} is shown a text: {text!r}")
                seen[name].append(text)
            together.append((harness.shown_text(pages["ann-a"]), harness.shown_text(pages["ann-b"])))
    finally:
        for context in contexts:
            context.close()
    same_moment = [a for a, b in together if a == b]
    both = set(seen["ann-a"]) & set(seen["ann-b"])
    assert not same_moment and not both, \
        f"after {len(together) - 1} rounds: shown to both at once: {same_moment}; shown to both: {sorted(both)}"


HOSTILE_NAME = "**bold** $x^2$ <img src=x onerror=alert(1)>"
HOSTILE_CLASS = "**bad** :red[x]"
HOSTILE_TEXT = "<script>alert(1)</script> **x**"


def test_hostile_names_render_as_plain_text(app, page):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    frame = pd.DataFrame({"text": [HOSTILE_TEXT, "An ordinary sentence.", "Another ordinary sentence."]})
    create_project_in_ui(page, app.url, frame, "hostile.csv", f"{HOSTILE_CLASS}, good", name=HOSTILE_NAME)
    harness.open_page(page, "Annotate")
    for _ in range(3):
        if harness.shown_text(page) == HOSTILE_TEXT:
            break
        harness.press(page, "ArrowRight")
    require(harness.shown_text(page) == HOSTILE_TEXT, "the hostile text was shown")

    title = page.locator("h1")
    button = page.locator('[data-testid="stMain"] [data-testid="stButton"] button').first
    main = page.locator('[data-testid="stMain"]')
    findings = {
        "title text": title.inner_text(),
        "button text": button.inner_text().split("\n")[0],
        "<strong> in title or buttons": page.locator('[data-testid="stMain"] h1 strong, '
                                                      '[data-testid="stMain"] [data-testid="stButton"] strong').count(),
        "KaTeX elements": main.locator(".katex").count(),
        "coloured spans": main.locator('[data-testid="stButton"] span[class*="color"], '
                                       '[data-testid="stButton"] span[style*="color"]').count(),
        "<img> in main": main.locator("img").count(),
        "<script> in main": main.locator("script").count(),
        "dialogs": list(dialogs),
    }
    wanted = {
        "title text": f"Annotate · {HOSTILE_NAME}",
        "button text": HOSTILE_CLASS,
        "<strong> in title or buttons": 0, "KaTeX elements": 0, "coloured spans": 0,
        "<img> in main": 0, "<script> in main": 0, "dialogs": [],
    }
    assert findings == wanted


HOSTILE_ANNOTATOR = "<b>eve</b> :blue[**x**] $y$"
EVERY_PAGE = ("Projects", "Annotate", "Review", "Model", "Export", "Settings", "Team")


def test_hostile_strings_stay_inert_on_every_page(app, page):
    """Issue 14, security checks: a hostile project, class and annotator name and a hostile text,
    once labeled, flow into every page (tables, charts, exports, reviews); none may run or render."""
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    frame = pd.DataFrame({"text": [HOSTILE_TEXT] + [f"An ordinary sentence number {i}." for i in range(11)]})
    create_project_in_ui(page, app.url, frame, "hostile.csv", f"{HOSTILE_CLASS}, good", name=HOSTILE_NAME)
    harness.open_page(page, "Annotate")
    harness.set_name(page, HOSTILE_ANNOTATOR)
    harness.wait_idle(page)
    for i in range(8):  # label texts (the hostile one among them) under the hostile name
        harness.press(page, "1" if i % 2 else "2")
    with project_db(app) as conn:
        labeled = {r[0] for r in conn.execute("SELECT e.text FROM annotations a JOIN examples e ON e.id = a.example_id "
                                               "WHERE a.annotator = ? AND a.action = 'label'", (HOSTILE_ANNOTATOR,))}
    # (a press that lands while the name change reruns the page may be lost: what matters is that
    # labels under the hostile name reach every page)
    require(len(labeled) >= 4, f"labels under the hostile name, got {len(labeled)}")
    for title in EVERY_PAGE:
        harness.open_page(page, title)
        main = page.locator('[data-testid="stMain"]')
        findings = {
            "dialogs": list(dialogs),
            "<img>": main.locator("img").count(),
            "<script>": main.locator("script").count(),
            "KaTeX": page.locator(".katex").count(),
            "<b> or <strong> from a name": main.locator("h1 strong, h1 b, [data-testid='stButton'] strong").count()
                                           + page.locator("b", has_text="eve").count(),
            "title": page.locator("h1").first.inner_text(),
        }
        wanted_title = title if title in ("Projects", "Team") else f"{title} · {HOSTILE_NAME}"
        assert findings == {"dialogs": [], "<img>": 0, "<script>": 0, "KaTeX": 0,
                            "<b> or <strong> from a name": 0, "title": wanted_title}, title


FAST_KEYS = """([keys, gap]) => new Promise(done => {  // resolves once the last key has been pressed
    if (document.activeElement) document.activeElement.blur();
    const start = performance.now();
    keys.forEach((key, i) => setTimeout(() => {
        for (const type of ['keydown', 'keyup'])
            document.body.dispatchEvent(new KeyboardEvent(type, {key, code: 'Digit' + key, bubbles: true, cancelable: true}));
        if (i === keys.length - 1) done(performance.now() - start);
    }, i * gap));
})"""


def is_in_order(part: list, whole: list) -> bool:
    """Whether `part` is `whole` with some items left out, the rest in the same order."""
    rest = iter(whole)
    return all(any(item == other for other in rest) for item in part)


def test_fast_key_presses_are_each_stored_exactly_once(app_factory, page, tmp_path):
    """Label keys a few ms apart (new-user trial, issue 20): a press was stored twice, on the same text
    (Streamlit stopped the first press's callback after its label, before it recorded the next text,
    and the next press labeled that text again), and presses were applied out of order. Now each press
    that reaches the app is stored once, on its own text, in the order pressed (ui/desk.py).

    What this cannot ask for: every press of a 20-40 ms burst stored. Streamlit (runner.fastReruns, its
    default) starts a new run per press and stops the one before; a run stopped before it reaches
    its callbacks drops its press before any code of Sieve runs (on this loaded 2-core box about
    one press in ten at 20 ms, fewer at 100 ms; with fastReruns off presses are merged and reordered,
    worse). Such a press stores nothing and the page stays where the others left it."""
    data_dir = tmp_path / "data"
    seed_projects(data_dir, ("reviews", reviews(), CLASSES))
    app = app_factory(data_dir)
    harness.goto(page, app.url)
    harness.open_page(page, "Annotate")
    harness.press(page, "1")  # one label the ordinary way first: the page is warm
    stored_in_all, spans = 0, []
    for burst in (["1", "2", "1", "2", "1"], ["2", "2", "2", "2"], ["1", "2", "1"]):  # 20 ms apart: within 100 ms
        with project_db(app) as conn:
            before = conn.execute("SELECT count(*) FROM annotations WHERE action = 'label'").fetchone()[0]
        took_ms = page.evaluate(FAST_KEYS, [burst, 20])  # a starved browser may press them later than asked
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
            others = conn.execute("SELECT count(*) FROM annotations WHERE action != 'label'").fetchone()[0]
        new = [label for _, label in rows[before:]]
        pressed = [CLASSES[int(k) - 1] for k in burst]
        assert len({example_id for example_id, _ in rows}) == len(rows), f"a text was labeled twice: {rows}"
        assert len(new) <= len(burst) and is_in_order(new, pressed), f"pressed {pressed}, stored {new}"
        assert others == 0
        stored_in_all += len(new)
        spans.append(took_ms)
        shown = harness.shown_text(page)
        with project_db(app) as conn:
            labeled = {r[0] for r in conn.execute("SELECT e.text FROM annotations a JOIN examples e ON e.id = a.example_id")}
        assert shown and shown not in labeled, "the page shows a text already labeled"
    assert stored_in_all >= 4, f"{stored_in_all} of 12 presses stored (bursts took {spans} ms)"
    # And at a reading pace each press is stored, on the text shown.
    for _ in range(3):
        with project_db(app) as conn:
            before = conn.execute("SELECT count(*) FROM annotations").fetchone()[0]
        harness.press(page, "2")
        with project_db(app) as conn:
            assert conn.execute("SELECT count(*) FROM annotations").fetchone()[0] == before + 1
