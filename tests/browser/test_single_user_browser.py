"""One person, one browser, a long session (issue 20): settings saved back to back both land, and a
past label is found in the label history and changed there."""
import itertools
import json
import time

import pytest

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # the tests are skipped (conftest says why); collection must still work
    PlaywrightTimeout = Exception

from tests.browser import harness
from tests.browser.test_annotate_browser import CLASSES, KEYS, project_db, reviews, seed_projects

pytestmark = pytest.mark.browser


def saved_settings(app) -> dict:
    with project_db(app) as conn:
        return json.loads(conn.execute("SELECT settings FROM projects").fetchone()[0])


def stored_soon(app, wanted: dict, timeout_s: float = 30) -> dict:
    """The stored settings once they hold `wanted` (a save's answer can be read before its run has
    committed on a loaded box: the "Saved" of the save before is still on the page); the last read
    when they never do, for the assertion to show."""
    deadline = time.monotonic() + timeout_s
    while True:
        settings = saved_settings(app)
        if all(settings.get(k) == v for k, v in wanted.items()) or time.monotonic() > deadline:
            return settings
        time.sleep(0.2)


def save(page) -> str:
    """Press Save settings; what the page answers ("Saved: ..." or "Nothing changed.")."""
    page.get_by_role("button", name="Save settings").click()
    harness.wait_idle(page)
    answer = page.locator('[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentInfo"]').first
    answer.wait_for()
    return answer.inner_text()


def test_a_setting_changed_right_after_a_save_is_saved_too(app_factory, page, tmp_path):
    """Issue 20 item 4: the second change snapped back to the first and Save said "Nothing changed"."""
    data_dir = tmp_path / "data"
    seed_projects(data_dir, ("reviews", reviews(), CLASSES))
    app = app_factory(data_dir)
    harness.goto(page, app.url)
    harness.open_page(page, "Settings")

    harness.choose(page, "Which texts to show next", "Random")
    assert "Saved" in save(page)
    harness.choose(page, "Which texts to show next", "Typical texts")  # at once, on the page the save left
    assert "Saved" in save(page)
    assert stored_soon(app, {"strategy": "kmeans"})["strategy"] == "kmeans"

    harness.choose(page, "Model family", "SetFit (differentiable head)")
    assert "Saved" in save(page)
    harness.choose(page, "Model family", "transformer fine-tuning")
    assert "Saved" in save(page)
    settings = stored_soon(app, {"family": "transformer", "strategy": "kmeans"})
    assert settings["family"] == "transformer" and settings["strategy"] == "kmeans"
    # What the page shows after both saves is what is stored.
    box = page.locator('[data-testid="stApp"]').get_by_role("combobox", name="Model family")
    assert box.input_value() == "transformer fine-tuning"


def wait_for_the_worker(app, timeout_s: float = 90) -> None:
    """Until no job of the project is queued or running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with project_db(app) as conn:
            if not conn.execute("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')").fetchone()[0]:
                return
        time.sleep(0.5)


def change_in_history(page, words: str, label: str) -> None:
    """Open "Your labels", find the text by `words`, choose `label` and press Change."""
    history = page.locator('[data-testid="stExpander"]', has_text="Your labels")
    box = page.locator('[data-testid="stTextInput"]', has_text="Text contains").locator("input")
    if not box.is_visible():
        page.get_by_text("Your labels: find one and change it").click()
        harness.wait_idle(page)
    box.fill(words)
    box.press("Enter")
    harness.wait_idle(page)
    row = history.locator('[data-testid="stHorizontalBlock"]', has=page.locator('[data-testid="stText"]',
                                                                                 has_text=words)).first
    choice = row.get_by_role("combobox")
    for _ in range(3):  # as harness.choose: in mid-viewport, so opening the list scrolls nothing (a scroll closes it)
        choice.evaluate("element => element.scrollIntoView({block: 'center'})")
        choice.click()
        try:
            page.get_by_role("option", name=label, exact=True).click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    harness.wait_idle(page)
    row.get_by_role("button", name="Change").click()
    harness.wait_idle(page)


def label_in_effect(app, text: str) -> str | None:
    with project_db(app) as conn:
        row = conn.execute(
            """SELECT a.label FROM annotations a JOIN examples e ON e.id = a.example_id
               WHERE e.text = ? AND a.action = 'label'
                 AND NOT EXISTS (SELECT 1 FROM annotations u WHERE u.reverts = a.id)
               ORDER BY a.id DESC LIMIT 1""", (text,)).fetchone()
    return row[0] if row else None


def test_a_past_label_is_found_in_the_history_and_changed(app_factory, page, tmp_path):
    """Issue 20 item 8: keyword search covered only unlabeled texts, and undo reached only the last label."""
    data_dir = tmp_path / "data"
    frame = reviews()
    gold = dict(zip(frame["text"], frame["label"]))
    seed_projects(data_dir, ("reviews", frame, CLASSES))
    app = app_factory(data_dir)
    harness.goto(page, app.url)
    harness.open_page(page, "Annotate")
    labeled = []
    for _ in range(6):
        text = harness.shown_text(page)
        labeled.append(text)
        harness.press(page, KEYS[gold[text]])
    first = labeled[0]  # five labels ago: out of undo's reach
    other = "negative" if gold[first] == "positive" else "positive"
    # The refit after these labels publishes a version and the page redraws itself once for it; let
    # that happen first, so the redraw does not land between choosing the label and pressing Change.
    wait_for_the_worker(app)
    page.wait_for_timeout(2_500)  # the Annotate page's 2 s model check sees the new version
    harness.wait_idle(page)

    for _ in range(3):  # a redraw in between (a late refit) closes the expander: open it again
        change_in_history(page, first[:30], other)
        if label_in_effect(app, first) == other:
            break
    assert label_in_effect(app, first) == other, harness.main_text(page)[-1500:]
    with project_db(app) as conn:  # appended: the first label is still on record
        assert conn.execute("SELECT count(*) FROM annotations a JOIN examples e ON e.id = a.example_id "
                            "WHERE e.text = ? AND a.action = 'label'", (first,)).fetchone()[0] == 2
    # Labeling by keyboard goes on where it was.
    shown = harness.shown_text(page)
    assert shown not in labeled
    harness.press(page, KEYS[gold[shown]])
    assert label_in_effect(app, shown) == gold[shown]


# Each bar of the Annotate page's labels-per-class chart and each class name on its axis, as drawn.
CLASS_COUNT_MARKS = """() => {
    const chart = [...document.querySelectorAll('[data-testid="stMain"] .vega-embed')].find(e => e.offsetParent !== null);
    if (!chart) return null;
    const box = e => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left,
                                                                   right: r.right, height: r.height, width: r.width}; };
    return {bars: [...chart.querySelectorAll('g.mark-rect path')].map(box),
            names: [...chart.querySelectorAll('g.role-axis-label text')].filter(t => isNaN(Number(t.textContent)))
                       .map(t => ({text: t.textContent, ...box(t)}))};
}"""


def test_the_labels_per_class_chart_draws_a_bar_per_class_and_names_that_do_not_overlap(app_factory, page, tmp_path,
                                                                                        screenshots):
    """New-user trial (issue 20): the small chart beside the text had no height for its bars, so no bar
    showed and the class names were drawn on top of one another."""
    data_dir = tmp_path / "data"
    frame = reviews()
    gold = dict(zip(frame["text"], frame["label"]))
    seed_projects(data_dir, ("reviews", frame, CLASSES))
    app = app_factory(data_dir, env={"SIEVE_WORKER": "external"})  # no model needed: the chart counts labels
    harness.goto(page, app.url)
    harness.open_page(page, "Annotate")
    given = set()
    while given != set(CLASSES):  # at least one label of each class
        label = gold[harness.shown_text(page)]
        harness.press(page, KEYS[label])
        given.add(label)
    page.locator('[data-testid="stMain"] .vega-embed svg').first.wait_for()
    page.wait_for_timeout(500)
    harness.screenshot(page, screenshots, "annotate-class-counts")
    drawn = page.evaluate(CLASS_COUNT_MARKS)
    assert drawn and len(drawn["bars"]) == len(CLASSES), drawn
    assert all(bar["height"] >= 8 and bar["width"] > 2 for bar in drawn["bars"]), drawn["bars"]
    names = sorted(drawn["names"], key=lambda n: n["top"])
    assert [n["text"] for n in names] and sorted(n["text"] for n in names) == sorted(CLASSES), names
    for upper, lower in itertools.pairwise(names):
        assert upper["bottom"] <= lower["top"] + 0.5, f"class names overlap: {names}"
