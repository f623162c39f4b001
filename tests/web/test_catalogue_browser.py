"""The catalogue in a real browser: Debian's Chromium driven by Playwright against a live
``hub serve``. Search as you type, filter by hardware, open a component, switch version, copy
a snippet, prove a hostile README runs nothing, and screenshot the pages at 1280 and 390 px
into ``test-artifacts/``."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, ROOT, LiveHub, missing_service, start_live_hub
from tests.web.seed import publish_hostile, seed

pytestmark = pytest.mark.live

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture reports it (skip on a laptop, fail in CI)
    expect = None  # type: ignore[assignment]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
XGB = "/components/library/train-xgboost"
WIDTHS = {1280: 900, 390: 844}


@pytest.fixture(scope="module")
def live_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    """One live hub for the module, seeded with the catalogue and the hostile README."""
    base = tmp_path_factory.mktemp("catalogue-live")
    hub = start_live_hub(base / "data", env={"HUB_ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=hub.url, timeout=30) as http:
            seed(http, headers, base / "packages")
            publish_hostile(http, headers, base / "packages")
        yield hub
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("browser tests need the playwright package")
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        missing_service("browser tests need Debian's Chromium at /usr/bin/chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


class Tab:
    """A page plus what it reported: console errors, uncaught errors, dialogs."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []
        page.set_default_timeout(10_000)
        page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("load")
        return response

    @property
    def path(self) -> str:
        return str(self.page.url).removeprefix(self.base_url)

    def result_refs(self) -> list[str]:
        links = self.page.locator("#results li.card .card__title a")
        return [str(href).removeprefix("/components/") for href in links.evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )]  # fmt: skip

    def assert_clean(self) -> None:
        assert self.page_errors == []
        assert self.dialogs == []
        assert self.console_errors == []


@pytest.fixture
def tab(browser: Any, live_catalogue: LiveHub) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_catalogue.url)
    yield Tab(context.new_page(), live_catalogue.url)
    context.close()


# ----------------------------------------------------------------------------- journeys


def test_search_as_you_type_then_filter_by_hardware(tab: Tab) -> None:
    page = tab.page
    tab.goto("/")
    page.get_by_role("searchbox", name="Search components").fill("train")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=train$"))
    assert "library/train-xgboost" in tab.result_refs()

    # Typing refines the results in place (no submit), and the URL follows.
    page.get_by_label("Search", exact=True).fill("train xgboost")
    page.wait_for_url(re.compile(r"q=train\+xgboost"))
    expect(page.locator("#results-count")).to_contain_text("2 components")
    assert tab.result_refs() == ["library/train-xgboost", "vision/train-xgboost"]

    # Hardware filters apply as soon as they change.
    page.get_by_label("Search", exact=True).fill("train")
    page.wait_for_url(re.compile(r"q=train$"))
    page.get_by_label("Needs a GPU").check()
    page.wait_for_url(re.compile(r"hardware=gpu"))
    expect(page.locator(".chip")).to_have_count(1)
    expect(page.locator("#results li.card")).to_have_count(3)
    assert set(tab.result_refs()) == {
        "library/train-xgboost",
        "vision/train-xgboost",
        "vision/train-resnet",
    }
    page.get_by_label("Accelerator model").select_option("nvidia-tesla-a100")
    page.wait_for_url(re.compile(r"accelerator=nvidia-tesla-a100"))
    expect(page.locator("#results li.card")).to_have_count(1)
    assert tab.result_refs() == ["vision/train-resnet"]
    page.get_by_label("Memory it needs, at most").select_option("16Gi")
    expect(page.locator("#results-count")).to_have_text("No components found")
    assert tab.result_refs() == []
    # The URL is the whole search: opening it anew gives the same page.
    shared = tab.path
    assert "max_memory=16Gi" in shared
    tab.goto(shared)
    assert page.get_by_label("Needs a GPU").is_checked()
    assert tab.result_refs() == []
    tab.assert_clean()


def test_open_a_component_and_switch_version(tab: Tab) -> None:
    page = tab.page
    tab.goto("/search?q=xgboost")
    results = page.locator("#results")
    results.get_by_role("heading", name="library/train-xgboost").get_by_role("link").click()
    page.wait_for_url(re.compile(XGB + "$"))
    assert page.get_by_role("heading", level=1).inner_text() == "library/train-xgboost"
    assert page.locator(".component-header .version-tag").inner_text() == "1.2.0"

    page.get_by_label("Version", exact=True).select_option("1.1.0")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(XGB + "/1.1.0$"))
    notice = page.locator(".notice--danger")
    assert "wrong default learning rate" in notice.inner_text()
    assert "@1.1.0" in page.locator("#snippet-sdk").inner_text()

    page.locator(".version-list").get_by_role("link", name="2.0.0-rc.1").click()
    page.wait_for_url(re.compile(XGB + "/2.0.0-rc.1$"))
    assert page.locator(".component-header .badge--warn").inner_text() == "prerelease"
    tab.assert_clean()


def test_copy_a_snippet(tab: Tab) -> None:
    page = tab.page
    tab.goto(XGB)
    copy = page.locator("button.copy").nth(1)  # the command line

    copy.click()

    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "hub pull library/train-xgboost@1.2.0"
    assert page.locator("[data-copy-status]").inner_text() == "Copied to the clipboard."
    page.locator("button.copy").nth(2).click()
    expect(page.locator("button.copy").nth(2)).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("from kfp import components")
    assert f"{tab.base_url}/api/v1/components/library/train-xgboost/versions/1.2.0/" in copied
    tab.assert_clean()


def test_everything_works_without_javascript(browser: Any, live_catalogue: LiveHub) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        tab = Tab(context.new_page(), live_catalogue.url)
        page = tab.page
        tab.goto("/search")
        page.get_by_label("Search", exact=True).fill("classifier")
        page.get_by_label("CPU only").check()
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url(re.compile(r"q=classifier.*hardware=cpu"))
        assert tab.result_refs() == [
            "library/evaluate-classifier",
            "library/train-xgboost",
            "vision/train-xgboost",
        ]
        tab.goto(XGB)
        assert page.locator("button.copy").first.is_hidden()  # nothing to copy with
        assert page.locator("#snippet-cli").inner_text() == "hub pull library/train-xgboost@1.2.0"
        page.get_by_label("Version", exact=True).select_option("1.0.0")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(re.compile(XGB + "/1.0.0$"))
        assert page.locator(".component-header .version-tag").inner_text() == "1.0.0"
    finally:
        context.close()


def test_keyboard_users_get_a_skip_link_and_a_visible_focus(tab: Tab) -> None:
    page = tab.page
    tab.goto(XGB)

    page.keyboard.press("Tab")

    focused = page.evaluate(
        "(() => { const e = document.activeElement; const s = getComputedStyle(e);"
        " const r = e.getBoundingClientRect();"
        " return {text: e.textContent.trim(), outline: s.outlineStyle, top: r.top}; })()"
    )
    assert focused["text"] == "Skip to main content"
    assert focused["outline"] != "none"
    assert focused["top"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


# ----------------------------------------------------------------------------- safety


SCRIPT_FLAG = "window.__pwned"


def _exercise_hostile_page(tab: Tab) -> None:
    """Do everything a reader might: hover, click every link, toggle, wait."""
    page = tab.page
    tab.goto("/components/library/hostile")
    readme = page.locator(".markdown")
    readme.get_by_text("hover me").hover()
    for name in ("raw link", "mixed case", "entity-encoded"):
        readme.get_by_text(name, exact=True).click()
    readme.get_by_text("toggle").click()
    readme.get_by_text("toggle").click()
    page.wait_for_timeout(300)
    assert tab.path == "/components/library/hostile"  # no link navigated anywhere


@pytest.mark.parametrize("csp", ["enforced", "bypassed"])
def test_a_hostile_readme_runs_no_script_in_the_browser(
    browser: Any, live_catalogue: LiveHub, csp: str
) -> None:
    """With the page's Content-Security-Policy, and with it bypassed so the sanitizer stands
    alone: no dialog opens, the flag every payload would set stays unset, no error is thrown,
    and (CSP on) the policy never had anything to block."""
    context = browser.new_context(bypass_csp=csp == "bypassed")
    try:
        tab = Tab(context.new_page(), live_catalogue.url)

        # Control: the detector sees a script that does run.
        tab.page.set_content('<script>window.__pwned = "control"; alert("control")</script>')
        assert tab.page.evaluate(SCRIPT_FLAG) == "control"
        assert tab.dialogs == ["control"]
        tab.dialogs.clear()

        _exercise_hostile_page(tab)

        assert tab.dialogs == []
        assert tab.page.evaluate(f"typeof {SCRIPT_FLAG}") == "undefined"
        assert tab.page_errors == []
        assert not [e for e in tab.console_errors if "Content Security Policy" in e]
        # Only the harmless broken image (src="x") may fail to load.
        assert all("404" in e for e in tab.console_errors), tab.console_errors
        assert tab.page.locator(".markdown script, .markdown iframe, .markdown svg").count() == 0
        assert "Some harmless text" in tab.page.locator(".markdown").inner_text()
    finally:
        context.close()


# ----------------------------------------------------------------------------- screenshots


@pytest.mark.parametrize("width", sorted(WIDTHS, reverse=True))
def test_screenshots_of_home_search_and_component(
    browser: Any, live_catalogue: LiveHub, width: int
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": WIDTHS[width]})
    try:
        tab = Tab(context.new_page(), live_catalogue.url)
        for name, path in [
            ("home", "/"),
            ("search", "/search?q=train&hardware=gpu"),
            ("component", XGB),
        ]:
            tab.goto(path)
            overflow = tab.page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
            target = ARTIFACTS / f"catalogue-{name}-{width}.png"
            tab.page.screenshot(path=str(target), full_page=True)
            assert target.stat().st_size > 10_000
        tab.assert_clean()
    finally:
        context.close()
