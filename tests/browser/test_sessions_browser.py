"""Sessions and sign-in in a real Chromium (issue 19 items 3, 4, 6): the session is an HttpOnly cookie, not a
link; every address, also the first one a fresh server gets, shows the sign-in page and nothing else until
one signs in, then the page it pointed to; Sign out in one tab stops the other tab's next label."""
import sqlite3

import pytest

from core import store
from core.team import auth
from tests.browser import harness
from tests.browser.test_annotate_browser import CLASSES, reviews, seed_projects

pytestmark = pytest.mark.browser
PASSWORD = "browser-test-pass"
SIGNED_IN = '[data-testid="stSidebar"] >> text=Signed in as'


def team_app(app_factory, tmp_path, **env):
    """A project and an admin made through core before the server starts (a fresh server: no page opened yet)."""
    import os

    data_dir = tmp_path / "data"
    seed_projects(data_dir, ("reviews", reviews(), CLASSES))
    previous = os.environ.get("SIEVE_DATA_DIR")
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    try:
        auth.create_user(store.connect(), None, "ada", PASSWORD, auth.ADMIN)
    finally:
        os.environ.pop("SIEVE_DATA_DIR") if previous is None else os.environ.__setitem__("SIEVE_DATA_DIR", previous)
    return app_factory(data_dir, env={"SIEVE_WORKER": "external", **env}), data_dir


def new_context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    return context


def assert_sign_in_only(page) -> None:
    text = harness.main_text(page)
    assert "Sign in to Sieve" in text, text
    for secret in ("Accounts", "Audit", "ada", "reviews", "Create a project first", ".py"):
        assert secret not in text, (secret, text)
    assert page.locator('[data-testid="stSidebar"]').count() == 0 or \
        "Signed in" not in page.locator('[data-testid="stSidebar"]').inner_text()


def sign_in(page, name: str = "ada") -> None:
    harness.sign_in(page, name, PASSWORD)


def session_tokens(data_dir) -> int:
    with sqlite3.connect(f"file:{data_dir / 'sieve.db'}?mode=ro", uri=True, timeout=5) as db:
        return db.execute("SELECT count(*) FROM sessions").fetchone()[0]


def test_the_session_is_an_httponly_cookie_not_a_link(app_factory, browser, tmp_path):
    """Item 3: no token in the URL, the HTML or any Referer; another browser with the same URL must sign in;
    a reload keeps one signed in; the cookie is HttpOnly and SameSite=Strict; Sign out clears it."""
    app, data_dir = team_app(app_factory, tmp_path)
    context = new_context(browser)
    referers = []
    context.on("request", lambda request: referers.append(request.headers.get("referer") or ""))
    try:
        page = context.new_page()
        harness.goto(page, app.url)
        sign_in(page)
        [cookie] = [c for c in context.cookies() if c["name"] == "sieve_session"]
        token = cookie["value"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        assert "session" not in page.url and token not in page.url, page.url
        assert page.evaluate("() => document.cookie").find(token) == -1  # JavaScript cannot read it
        for title in ("Annotate", "Model", "Team"):
            harness.open_page(page, title)
            assert token not in page.url and "session=" not in page.url, page.url
            assert token not in page.content(), f"the token is in the {title} page's HTML"
        page.reload()
        page.locator(SIGNED_IN).wait_for()  # a reload keeps the sign-in (the cookie)
        harness.wait_idle(page)
        assert all(token not in r and "session=" not in r for r in referers), [r for r in referers if token in r]

        other = new_context(browser)  # someone the URL was sent to
        try:
            stranger = other.new_page()
            harness.goto(stranger, page.url)
            assert_sign_in_only(stranger)
            harness.goto(stranger, f"{app.url}/team?session={token}")  # an old-style link is not believed
            assert_sign_in_only(stranger)
        finally:
            other.close()

        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        page.locator('[data-testid="stMain"] >> text=Sign in to Sieve').wait_for()
        harness.wait_idle(page)
        assert not [c for c in context.cookies() if c["name"] == "sieve_session"], "Sign out leaves the cookie"
        assert session_tokens(data_dir) == 0
        page.reload()
        harness.wait_idle(page)
        assert_sign_in_only(page)
    finally:
        context.close()


@pytest.mark.parametrize("path, lands_on", [("/team", "Team"), ("/annotate?project=1", "Annotate")])
def test_a_deep_link_as_the_first_request_signs_in_then_lands_where_it_pointed(app_factory, browser, tmp_path,
                                                                               path, lands_on):
    """Item 4: the first request a fresh server gets is a deep link: only the sign-in form, nothing of the
    page; after signing in, that page (with its project)."""
    app, _ = team_app(app_factory, tmp_path)
    context = new_context(browser)
    try:
        page = context.new_page()
        harness.goto(page, app.url + path)
        assert_sign_in_only(page)
        sign_in(page)
        page.wait_for_function("t => document.querySelector('h1') && document.querySelector('h1').innerText.startsWith(t)",
                               arg=lands_on)
        assert page.url.startswith(app.url + path.split("?")[0]), page.url
        if lands_on == "Annotate":
            assert "reviews" in harness.main_text(page) and harness.shown_text(page), harness.main_text(page)
    finally:
        context.close()


def test_sign_out_in_one_tab_stops_a_label_from_the_other(app_factory, browser, tmp_path):
    """Item 6: tabs of one session; tab A signs out; tab B's next key saves nothing and shows sign-in; tab C,
    left on the Model page, goes to the sign-in page by itself (the sidebar's 2-second check)."""
    app, data_dir = team_app(app_factory, tmp_path)
    context = new_context(browser)
    try:
        tab_a = context.new_page()
        harness.goto(tab_a, app.url)
        sign_in(tab_a)
        tab_b = context.new_page()  # the same browser, the same address: the same session
        harness.goto(tab_b, tab_a.url)
        tab_b.locator(SIGNED_IN).wait_for()
        harness.open_page(tab_b, "Annotate")
        assert harness.shown_text(tab_b)
        tab_c = context.new_page()
        harness.goto(tab_c, tab_a.url)
        harness.open_page(tab_c, "Model")
        harness.press(tab_b, "1")  # a label while signed in lands
        db = sqlite3.connect(f"file:{data_dir / 'sieve.db'}?mode=ro", uri=True, timeout=5)
        assert db.execute("SELECT count(*) FROM annotations").fetchone()[0] == 1

        tab_a.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        tab_a.locator('[data-testid="stMain"] >> text=Sign in to Sieve').wait_for()

        tab_b.bring_to_front()
        tab_b.evaluate("() => { if (document.activeElement) document.activeElement.blur(); }")
        tab_b.keyboard.press("2")
        tab_b.locator('[data-testid="stMain"] >> text=Sign in to Sieve').wait_for(timeout=60_000)  # slow on a loaded box
        harness.wait_idle(tab_b)
        assert db.execute("SELECT count(*) FROM annotations").fetchone()[0] == 1, "a label landed after Sign out"
        assert_sign_in_only(tab_b)
        tab_c.locator('[data-testid="stMain"] >> text=Sign in to Sieve').wait_for(timeout=60_000)
        harness.wait_idle(tab_c)
        assert_sign_in_only(tab_c)
    finally:
        context.close()


def test_an_annotator_follows_an_annotate_link_and_a_link_to_a_page_the_role_lacks(app_factory, browser, tmp_path):
    """A new user's trial: for an annotator Annotate was the page at "/" only, so /annotate?project=1 (the
    link an admin copies) opened Streamlit's blocking "Page not found" dialog; /team did the same."""
    import os

    app, data_dir = team_app(app_factory, tmp_path)
    os.environ["SIEVE_DATA_DIR"] = str(data_dir)
    try:
        db = store.connect()
        admin = auth.authenticate(db, "ada", PASSWORD)
        ann = auth.create_user(db, admin, "ann", PASSWORD, auth.ANNOTATOR)
        auth.assign(db, admin, ann.user_id, 1)
    finally:
        os.environ.pop("SIEVE_DATA_DIR")
    context = new_context(browser)
    try:
        page = context.new_page()
        harness.goto(page, app.url + "/annotate?project=1")
        assert_sign_in_only(page)
        sign_in(page, "ann")
        page.wait_for_function("() => document.querySelector('h1') && document.querySelector('h1').innerText.startsWith('Annotate')")
        harness.wait_idle(page)
        assert page.get_by_text("Page not found").count() == 0
        assert harness.shown_text(page)
        harness.goto(page, app.url + "/team")
        page.get_by_text("Your role does not include this page").wait_for()
        assert page.get_by_text("Page not found").count() == 0
        assert "Audit" not in harness.main_text(page)
    finally:
        context.close()
