"""Neo4j Browser in a real (headless) Chromium: graphmem's guide loads the style and the group,
a saved query runs, and the graph it draws shows graphmem's captions.

Needs /usr/bin/chromium, /usr/bin/chromedriver (Debian's `chromium`, `chromium-driver`) and
`selenium` (`make browser-deps`), and the local Neo4j. Without them the test skips on a developer
machine and fails under CI (env CI set). The screenshot goes to results/browser/.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from graphmem.browse import AssetServer, asset_url, browser_url
from graphmem.config import Config
from graphmem.memory import Memory
from tests.conftest import ROOT, SAMPLE, neo4j_settings

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "results" / "browser"
GROUP = "graphmem-browser-test"  # this test's own tenant
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1600,1000",
)
WAIT_SECONDS = 30


def _skip_or_fail(reason: str) -> None:
    """Skip on a developer machine; fail under CI, where the browser test must run."""
    if os.environ.get("CI"):
        pytest.fail(f"the browser test must run under CI: {reason} (make browser-deps)", pytrace=False)
    pytest.skip(f"{reason}; `make browser-deps` installs it")


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    """A headless Chromium driven through the system chromedriver (nothing is downloaded)."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        _skip_or_fail(f"no {' or '.join(missing)}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _skip_or_fail("selenium is not installed")
    with tempfile.TemporaryDirectory(prefix="graphmem-chromium-") as profile:  # a fresh profile
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        yield driver
        driver.quit()


@pytest.fixture
def asset_server() -> Iterator[AssetServer]:
    """`graphmem browse --serve`'s server, on a free port, in a background thread."""
    with AssetServer(0, GROUP) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server
        server.shutdown()


class BrowserPage:
    """Neo4j Browser in `driver`, driven the way a person clicks through it."""

    FRAME = "article[data-testid=frame]"  # a result frame; the newest is first

    def __init__(self, driver):
        self.driver = driver

    def poll(self, condition: Callable[[], object], seconds: float = WAIT_SECONDS):
        """Poll `condition` until it returns something truthy, and return that (None after `seconds`)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                value = condition()
            except Exception:  # the page is still rendering: elements come and go
                value = None
            if value:
                return value
            time.sleep(0.25)
        return None

    def wait_for(self, condition: Callable[[], object], what: str, seconds: float = WAIT_SECONDS):
        """`poll`, failing with a screenshot of the page when `condition` never held."""
        value = self.poll(condition, seconds)
        if not value:
            screenshot = self.screenshot("failure")
            pytest.fail(f"Browser never showed {what} within {seconds:.0f}s; the page then: {screenshot}")
        return value

    def visible(self, css: str) -> list:
        from selenium.webdriver.common.by import By

        return [element for element in self.driver.find_elements(By.CSS_SELECTOR, css) if element.is_displayed()]

    def click(self, css: str, what: str) -> None:
        self.wait_for(lambda: self.visible(css), what)[0].click()

    def connect(self, password: str, attempts: int = 3) -> None:
        """Fill in the connect form's password (the URL filled in the address and user) and connect.

        Browser may re-render the form while the guide loads beside it, swallowing a click or the
        typed password, so the form is filled and submitted again until Browser says it connected.
        """
        def connected() -> bool:
            return "Connected to Neo4j" in self.visible("[data-testid=stream]")[0].text

        for _ in range(attempts):
            if self.poll(connected, 1):  # a slow earlier attempt may have got through after all
                return
            field = self.wait_for(lambda: self.visible("input[data-testid=password]"), "the connect form")[0]
            if not field.get_attribute("value"):
                field.send_keys(password)
            self.click("button[data-testid=connect]", "the connect button")
            if self.poll(connected, WAIT_SECONDS / attempts):
                return
        self.wait_for(connected, "a connection")

    def run_from_guide(self, command_prefix: str) -> None:
        """Click the guide's button whose Browser command starts with `command_prefix`."""
        self.expect_new_frame(lambda: self.click(f"button[data-exec^='{command_prefix}']",
                                                 f"the guide's {command_prefix} button"))

    def run_saved_query(self, title: str) -> None:
        """Go to the guide's slide called `title`, put its query in the editor, and run it."""
        self.wait_for(lambda: self._step_to_slide(title), f"the guide slide {title!r}")
        self.visible("pre.runnable")[-1].click()
        self.expect_new_frame(lambda: self.click("button[data-testid=editor-Run]", "the editor's run button"))

    def _step_to_slide(self, title: str) -> bool:
        """One step towards the guide slide called `title`; true once it is shown."""
        if any(title in heading.text for heading in self.visible("h3")):
            return True
        self.visible("button[data-testid=guideNextSlide]")[0].click()
        return False

    def expect_new_frame(self, action: Callable[[], None]) -> None:
        """Do `action` and wait until a new result frame appears."""
        before = len(self.visible(self.FRAME))
        action()
        self.wait_for(lambda: len(self.visible(self.FRAME)) > before, "a new result frame")

    def node_captions(self) -> list[str]:
        """The caption of each node drawn in the newest frame's graph (its text lines joined)."""
        return self.driver.execute_script(
            f"""return Array.from(document.querySelector('{self.FRAME}').querySelectorAll('svg g.node'))
                .map(node => Array.from(node.querySelectorAll('text.caption'))
                    .map(line => line.textContent.trim()).join(' '));"""
        )

    def wait_for_layout(self) -> None:
        """Wait until the newest graph's force layout has settled: node positions stop changing."""
        def positions() -> str:
            return self.driver.execute_script(
                f"return Array.from(document.querySelector('{self.FRAME}').querySelectorAll('svg g.node'))"
                ".map(node => node.getAttribute('transform')).join(';')"
            )

        def settled() -> bool:
            before = positions()
            time.sleep(0.5)
            return before == positions()

        self.wait_for(settled, "a settled graph layout")

    def zoom_to_fit(self) -> None:
        """Scale the newest graph to fill its frame (clicking again while a click has not taken)."""
        def fitted() -> bool:
            self.click(f"{self.FRAME} button[aria-label=zoom-to-fit]", "the zoom-to-fit button")
            time.sleep(0.5)
            zoom = self.visible(f"{self.FRAME} svg.neod3viz > g > g")[0]  # the group the zoom transforms
            return "scale" in (zoom.get_attribute("transform") or "")

        self.wait_for(fitted, "the graph zoomed to fit its frame")

    def screenshot(self, name: str) -> Path:
        """Save what the page shows as results/browser/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path


def _ingest_sample() -> None:
    """Write the sample conversation into this test's group, afresh (other tests wipe the database)."""
    with Memory(Config(store="neo4j", group_id=GROUP)) as memory:
        memory.forget()
        memory.ingest(SAMPLE)


def test_the_guide_styles_the_overview_with_graphmem_captions(chromium, asset_server, neo4j_session_store, capsys):
    settings = neo4j_settings()
    http_port = int(os.environ.get("NEO4J_HTTP_PORT", "7474"))
    guide = asset_url(asset_server.port, "guide.html")
    page = BrowserPage(chromium)
    chromium.get(browser_url(settings["uri"], settings["user"], http_port, guide_url=guide))
    page.connect(settings["password"])
    page.run_from_guide("style")
    page.run_from_guide("param")

    # The local Neo4j is shared with tests that wipe it: ingest right before the query, and
    # once more if the graph came back without our nodes.
    for _ in range(3):
        _ingest_sample()
        page.run_saved_query("Overview")
        if page.poll(lambda: {"Ana", "Ben"} <= set(page.node_captions()), seconds=15):
            break

    page.click("button[name=Guides]", "the Guides button")  # closes the guide's sidebar
    page.click(f"{page.FRAME} button[title=Fullscreen]", "the frame's fullscreen button")
    page.click(f"{page.FRAME} button[aria-label='Collapse the node properties display']", "the overview panel's button")
    page.wait_for_layout()
    page.zoom_to_fit()
    screenshot = page.screenshot("overview")
    with capsys.disabled():  # into the test log even when the test passes
        print(f"\nscreenshot of the overview in Neo4j Browser: {screenshot}")

    captions = page.node_captions()
    assert {"Ana", "Ben", "Maya", "Lumen Labs"} <= set(captions), captions
    assert any(c.startswith("Ana (2024-03-11): Hi Ben! I started a") for c in captions), captions
    assert any(c.startswith("Ben (2024-03-11): Congrats Ana!") for c in captions), captions
