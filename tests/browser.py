"""Headless Chromium for tests: Debian's `chromium` package driven by playwright.

The `browser` fixture (one browser per test session) opens pages as a user's browser would:
`browser.open(url)` gives a playwright `Page` that has finished loading. Chromium is found at
`BACKROOM_CHROMIUM`, else `chromium` on the PATH; without one, the tests that need it are
skipped (and in CI, where a skip fails the run, `.ci/run` installs it first).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import Page, sync_playwright

# No GPU, no sandbox (root in CI), nothing fetched that the page does not ask for.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
FLAGS += ["--disable-background-networking", "--disable-extensions"]


def chromium_path() -> str | None:
    return os.environ.get("BACKROOM_CHROMIUM") or shutil.which("chromium")


@dataclass
class Browser:
    """One headless Chromium; each `open` is a fresh page (no cookies or cache shared)."""

    chromium: PlaywrightBrowser
    pages: list[Page] = field(default_factory=list)

    def open(
        self, url: str, *, credentials: tuple[str, str] | None = None, width: int = 1100
    ) -> Page:
        """`url` loaded (the load event and no network for 500 ms) in a new page."""
        login = (
            None
            if credentials is None
            else {"username": credentials[0], "password": credentials[1]}
        )
        context = self.chromium.new_context(
            http_credentials=login, viewport={"width": width, "height": 900}
        )
        page = context.new_page()
        self.pages.append(page)
        page.goto(url, wait_until="networkidle")
        return page

    def close_pages(self) -> None:
        for page in self.pages:
            page.context.close()
        self.pages.clear()


@pytest.fixture(scope="session")
def _chromium() -> Iterator[PlaywrightBrowser]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium: install Debian's chromium package (or set BACKROOM_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def browser(_chromium: PlaywrightBrowser) -> Iterator[Browser]:
    """Headless Chromium; the pages a test opened are closed after it."""
    opened = Browser(_chromium)
    yield opened
    opened.close_pages()
