"""Headless Chromium for tests: Debian's `chromium` package driven by playwright.

The `browser` fixture (one browser per test session) opens pages as a user's browser would:
`browser.open(url)` gives a playwright `Page` that has finished loading; `browser.visit(url)`
gives the page and the response it was loaded from (its status). Chromium is found at
`BACKROOM_CHROMIUM`, else `chromium` on the PATH; without one, the tests that need it are
skipped (and in CI, where a skip fails the run, `.ci/run` installs it first).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import pytest
from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import HttpCredentials, Page, Response, sync_playwright

# No GPU, no sandbox (root in CI), nothing fetched that the page does not ask for.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
FLAGS += ["--disable-background-networking", "--disable-extensions"]
WaitUntil = Literal["commit", "domcontentloaded", "load", "networkidle"]  # playwright's


def _keep_if_page_load(response: Response, page: Page, loaded: list[Response]) -> None:
    if response.request.is_navigation_request() and response.frame == page.main_frame:
        loaded.append(response)


def chromium_path() -> str | None:
    return os.environ.get("BACKROOM_CHROMIUM") or shutil.which("chromium")


@dataclass
class Browser:
    """One headless Chromium; each `open` is a fresh page (no cookies or cache shared)."""

    chromium: PlaywrightBrowser
    pages: list[Page] = field(default_factory=list)

    def open(
        self,
        url: str,
        *,
        credentials: tuple[str, str] | None = None,
        width: int = 1100,
        wait_until: WaitUntil = "networkidle",
    ) -> Page:
        """`url` loaded in a new page: by default the load event and no network for 500 ms;
        `wait_until="load"` for a page that keeps polling (its rows then awaited by the test)."""
        return self._load(url, credentials, width, wait_until)[0]

    def visit(
        self,
        url: str,
        *,
        credentials: tuple[str, str] | None = None,
        width: int = 1100,
        wait_until: WaitUntil = "networkidle",
    ) -> tuple[Page, Response]:
        """As `open`, with the response the page was loaded from (its status, its headers).
        `credentials` answer an HTTP authentication challenge (wrong ones: the server's 401
        page is shown). Without them headless Chromium has no login dialog to show: the page
        stays empty (Chromium's error page) and the response is the server's 401."""
        page, response = self._load(url, credentials, width, wait_until)
        assert response is not None, f"no response loading {url}"
        return page, response

    def _load(
        self, url: str, credentials: tuple[str, str] | None, width: int, wait_until: WaitUntil
    ) -> tuple[Page, Response | None]:
        page = self._new_page(credentials, width)
        loaded: list[Response] = []
        page.on("response", lambda answer: _keep_if_page_load(answer, page, loaded))
        try:
            return page, page.goto(url, wait_until=wait_until)
        except PlaywrightError as error:
            if "ERR_INVALID_AUTH_CREDENTIALS" not in error.message or not loaded:
                raise
            page.wait_for_url("chrome-error://**", wait_until="load")  # then it stays still
            return page, loaded[-1]

    def _new_page(self, credentials: tuple[str, str] | None, width: int) -> Page:
        login: HttpCredentials | None = None
        if credentials is not None:
            login = {"username": credentials[0], "password": credentials[1]}
        context = self.chromium.new_context(
            http_credentials=login, viewport={"width": width, "height": 900}
        )
        page = context.new_page()
        self.pages.append(page)
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
