"""The Temporal Web UI in headless Chromium: the system browser, driven by Playwright.

Playwright's own browser download cannot run here (and CI has no internet for it), so the
tests drive Debian's ``chromium``, which ``scripts/install-system-deps.sh`` installs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Locator, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    # Chromium will not run as root with its sandbox (CI runs as root); there is no GPU.
    # Playwright adds --headless and the profile directory (--user-data-dir) itself.
    "--no-sandbox",
    "--disable-gpu",
    # The network is closed: keep Chromium from opening connections of its own
    # (updates, sync, field trials) that would only be refused.
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1600, "height": 1000}
SCREENSHOT_DIR = REPO_ROOT / "test-output" / "web-ui"
"""Screenshots are copied here (ignored by git) so they can be looked at after a run."""

ATTEMPT_SECONDS = 5.0


def require_chromium() -> Path:
    """The system Chromium, or fail the test saying how to install it.

    Fail, not skip: CI installs Chromium with the other system packages before the tests
    (``.ci/run``), so a missing browser there is a broken setup that a skip would hide,
    and the Web UI test is part of what "done" means for the operations issue. Locally,
    ``make system-deps`` installs it, or deselect the test.
    """
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: run `make system-deps` (scripts/install-system-deps.sh "
            "installs Debian's chromium); deselect with `-k 'not web_ui'` to run without it",
            pytrace=False,
        )
    return CHROMIUM


def workflows_url(ui: str, namespace: str, query: str) -> str:
    """The UI's workflow list filtered by a visibility query."""
    return f"{ui}/namespaces/{quote(namespace)}/workflows?query={quote(query, safe='')}"


def workflow_history_url(ui: str, namespace: str, workflow_id: str, run_id: str) -> str:
    """The UI's page of one workflow run, on its event history."""
    return (
        f"{ui}/namespaces/{quote(namespace)}/workflows/{quote(workflow_id, safe='')}"
        f"/{quote(run_id, safe='')}/history"
    )


def _processes_using(profile_dir: Path) -> list[int]:
    """Ids of the processes whose command line names this (unique) profile directory."""
    needle = str(profile_dir).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
    return pids


@contextlib.asynccontextmanager
async def chromium_page(profile_dir: Path) -> AsyncIterator[Page]:
    """A page in headless Chromium with a fresh profile; the browser is gone afterwards."""
    executable = require_chromium()
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile_dir,
                executable_path=executable,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
            )
            try:
                yield context.pages[0] if context.pages else await context.new_page()
            finally:
                await context.close()
    finally:
        # Playwright closes the browser it launched; make sure no renderer or helper
        # process of this profile outlives the test.
        leftovers = _processes_using(profile_dir)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert not leftovers, f"Chromium processes outlived the browser: {leftovers}"


async def is_visible_within(locator: Locator, timeout: float) -> bool:
    """Whether ``locator`` becomes visible within ``timeout`` seconds."""
    try:
        # Responsive layouts keep hidden copies of some text: wait for a visible one.
        await locator.filter(visible=True).first.wait_for(timeout=timeout * 1000)
    except PlaywrightTimeoutError:
        return False
    return True


async def reload_until_visible(page: Page, url: str, locator: Locator, timeout: float) -> bool:
    """Open ``url`` and reload it until ``locator`` is visible (visibility lags writes)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await page.goto(url, wait_until="domcontentloaded")
        # The list is fetched after the page loads: give each load a few seconds.
        if await is_visible_within(locator, ATTEMPT_SECONDS):
            return True
        if loop.time() > deadline:
            return False


_HIDDEN_BY_SCROLLING = """() => Math.max(0, ...Array.from(document.querySelectorAll("*"))
    .filter((e) => ["auto", "scroll"].includes(getComputedStyle(e).overflowY))
    .filter((e) => e.clientHeight >= 0.8 * window.innerHeight)
    .map((e) => e.scrollHeight - e.clientHeight))"""
"""How much the page's scrolling panes (not its small menus) hide, in pixels."""
MAX_SCREENSHOT_HEIGHT = 6000


async def save_screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot in ``tmp_path``, copied to ``test-output/web-ui/<name>.png``.

    The UI scrolls inside its own panes, so ``full_page`` alone would capture the
    viewport only: the viewport grows by what those panes hide for the shot.
    """
    path = tmp_path / f"{name}.png"
    hidden = int(await page.evaluate(_HIDDEN_BY_SCROLLING))
    height = min(VIEWPORT["height"] + hidden, MAX_SCREENSHOT_HEIGHT)
    await page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    try:
        await page.screenshot(path=path, full_page=True)
    finally:
        await page.set_viewport_size({"width": VIEWPORT["width"], "height": VIEWPORT["height"]})
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SCREENSHOT_DIR / path.name)
    return path
