"""Browser tests: the helpdesk in a Daphne child process against the test database, a shop's page on
another origin embedding the widget, and Debian's Chromium driven by Playwright's sync API.

Run them in their own pytest call (`pytest tests/e2e`): Playwright's sync API leaves an event loop
running in the main thread, which breaks async and ORM tests that run after it in the same process.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.e2e.live_server import CHROMIUM, CHROMIUM_ARGS, HELPDESK_HOST, HostPage, helpdesk_application

BROWSER_MARK = "browser"
SERVER_START_SECONDS = 60


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"{BROWSER_MARK}: real-browser tests (Playwright + Chromium); run them alone: pytest tests/e2e"
    )


def pytest_collection_modifyitems(config, items):
    browser_tests = [item for item in items if item.get_closest_marker(BROWSER_MARK)]
    if browser_tests and len(browser_tests) < len(items):
        skip = pytest.mark.skip(
            reason="browser tests run in their own pytest call (pytest tests/e2e): Playwright's sync API "
            "leaves an event loop running that breaks the async and ORM tests after it"
        )
        for item in browser_tests:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's loop counts as "running" in this thread: without this, Django refuses the test's own
        # ORM calls (fixtures, assertions, the database flush) as calls from async code.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def helpdesk_server(browser, transactional_db, tmp_path):
    """The helpdesk over HTTP and websockets, as `http://127.0.0.1:<port>`. One server per test: each
    process caches configuration, which must not outlive the test's rows."""
    from daphne.testing import DaphneProcess

    from tests.helpers import url_of_test_database

    application = partial(
        helpdesk_application, database_url=url_of_test_database(), media_root=str(tmp_path / "server-media")
    )
    process = DaphneProcess(host=HELPDESK_HOST, get_application=application)
    process.start()
    try:
        if not process.ready.wait(SERVER_START_SECONDS):
            problem = process.errors.get(timeout=1)[1] if not process.errors.empty() else "no error reported"
            pytest.fail(f"Daphne did not start within {SERVER_START_SECONDS} s: {problem}")
        yield f"http://{HELPDESK_HOST}:{process.port.value}"
    finally:
        process.terminate()
        process.join(10)
        if process.is_alive():
            process.kill()


@pytest.fixture
def widget_key():
    return "e2e-shop-widget"


@pytest.fixture
def host_page(helpdesk_server, widget_key):
    page = HostPage(helpdesk_url=helpdesk_server, widget_key=widget_key).start()
    yield page
    page.stop()


@pytest.fixture
def customer_context(browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def agent_context(browser):
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    yield context
    context.close()
