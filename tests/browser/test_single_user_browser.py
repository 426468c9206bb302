"""One person, one browser, a long session (issue 20): settings saved back to back both land, and a
past label is found in the label history and changed there."""
import pytest

from core import store
from tests.browser import harness
from tests.browser.test_annotate_browser import CLASSES, KEYS, project_db, reviews, seed_projects

pytestmark = pytest.mark.browser


def saved_settings(app) -> dict:
    import json

    with project_db(app) as conn:
        return json.loads(conn.execute("SELECT settings FROM projects").fetchone()[0])


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
    assert saved_settings(app)["strategy"] == "kmeans"

    harness.choose(page, "Model family", "SetFit (differentiable head)")
    assert "Saved" in save(page)
    harness.choose(page, "Model family", "transformer fine-tuning")
    assert "Saved" in save(page)
    settings = saved_settings(app)
    assert settings["family"] == "transformer" and settings["strategy"] == "kmeans"
    # What the page shows after both saves is what is stored.
    box = page.locator('[data-testid="stApp"]').get_by_role("combobox", name="Model family")
    assert box.input_value() == "transformer fine-tuning"
