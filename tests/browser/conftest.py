"""Fixtures for the real-browser tests: the app as a subprocess, and Chromium through Playwright.

Every test here is marked `browser`. They are skipped (with the reason) when Playwright or
/usr/bin/chromium is missing, unless SIEVE_REQUIRE_BROWSER=1, which turns the skip into a failure.
"""
import os
from pathlib import Path

import pytest

from tests.browser import harness
from tests.conftest import ROOT


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    reason = harness.browser_missing()
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if reason and not os.environ.get("SIEVE_REQUIRE_BROWSER"):
                item.add_marker(pytest.mark.skip(reason=f"browser tests need a browser: {reason}"))


def _require_browser():
    reason = harness.browser_missing()
    if reason:
        message = f"browser tests need a browser: {reason}"
        if os.environ.get("SIEVE_REQUIRE_BROWSER"):
            pytest.fail(message + " (SIEVE_REQUIRE_BROWSER is set)", pytrace=False)
        pytest.skip(message)


@pytest.fixture
def app_factory(tmp_path):
    """Start the app (`streamlit run app.py`) with its own SIEVE_DATA_DIR; all are stopped at teardown,
    streamlit and the worker it spawned."""
    _require_browser()  # before starting anything
    apps = []

    def start(data_dir: Path | None = None, env: dict | None = None) -> harness.App:
        app = harness.App(data_dir or tmp_path / f"data{len(apps)}", env=env)
        apps.append(app)
        return app.start()

    yield start
    for app in apps:
        app.stop()
        assert not app.worker_pids(), f"worker of {app.data_dir} still running"


@pytest.fixture
def app(app_factory) -> harness.App:
    """A fresh app with an empty data directory; `app.url` is where it serves."""
    return app_factory()


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = harness.launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    """A fresh browser context (cookies, storage) per test, with downloads allowed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(30_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("SIEVE_SCREENSHOTS", ROOT / "bench" / "out" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
