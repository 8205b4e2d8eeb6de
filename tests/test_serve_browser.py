"""The web app in a real headless Chromium driven over the DevTools protocol, against `trove serve`
running as a subprocess: type a query, open a result, follow "more like this" twice, arrows, Esc,
`s`, back and forward, no console error or CSP violation; screenshots of the grid and the full view
at desktop and phone sizes (kept in $TROVE_SCREENSHOTS when set, to be looked at)."""
from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import Trove
from search_support import XSS, build_library
from serve_support import Server
from test_search_browser import BROWSER, DevTools

pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine (CI installs Debian's "
                                                        "`chromium`; this test never installs one)")


def wait_until(browser: DevTools, expression: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        value = browser.eval(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {expression}")
        time.sleep(0.1)


def press(browser: DevTools, key: str, code: str | None = None, text: str | None = None) -> None:
    for kind in ("keyDown", "keyUp"):
        browser.send("Input.dispatchKeyEvent", type=kind, key=key, code=code or key,
                     **({"text": text} if text and kind == "keyDown" else {}))


def shoot(browser: DevTools, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    path.write_bytes(base64.b64decode(browser.send("Page.captureScreenshot", format="png")["data"]))
    keep = os.environ.get("TROVE_SCREENSHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, keep)
    return path


def problems(browser: DevTools) -> list:
    bad = []
    for e in browser.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            bad.append(p["exceptionDetails"].get("text"))
        elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
            bad.append([a.get("value") for a in p.get("args", [])])
        elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
            bad.append(p["entry"]["text"])
    return bad


def test_the_app_in_headless_chromium(tmp_path):
    lib, _paths = build_library(tmp_path / "lib", None)
    with Server(Trove(lib.library)) as server:
        browser = DevTools(tmp_path / "profile")
        try:
            for domain in ("Page", "Runtime", "Log"):
                browser.send(f"{domain}.enable")
            browser.send("Page.navigate", url=server.url)
            wait_until(browser, "document.querySelectorAll('.tile img').length === 8 && "
                                "[...document.querySelectorAll('.tile img')].every(i => i.complete && i.naturalWidth > 0)")
            months = browser.eval("[...document.querySelectorAll('#grid .month')].map(h => h.textContent)")
            assert months[0] == "May 2021" and months[-1] == "No date", months
            shoot(browser, tmp_path, "grid-desktop")

            # type a query and submit it as a person would
            browser.eval("document.getElementById('q').focus()")
            browser.send("Input.insertText", text="magenta")
            press(browser, "Enter", text="\r")
            wait_until(browser, "location.search === '?q=magenta' && document.querySelectorAll('.tile').length > 0 "
                                "&& document.querySelector('.tile .score') !== null")
            first = browser.eval("document.querySelector('.tile .name').textContent")
            assert first == XSS   # the payload-named file is shown as text ...
            assert browser.eval("document.querySelectorAll('img[src=\"x\"]').length") == 0   # ... never as markup

            # open the first result: the full view with the real photo, its metadata and neighbours
            browser.eval("document.querySelector('.tile a').click()")
            wait_until(browser, "!document.getElementById('viewer').hidden && "
                                "document.getElementById('v-img').naturalWidth > 0 && "
                                "document.getElementById('viewer').dataset.shown !== undefined && "
                                "document.querySelectorAll('#v-near img').length > 0")
            assert browser.eval("document.getElementById('v-name').textContent") == XSS
            rows = browser.eval("[...document.querySelectorAll('#v-meta th')].map(t => t.textContent)")
            assert "hash" in rows and "size" in rows
            shoot(browser, tmp_path, "view-desktop")

            # follow "more like this" twice: each is a new view with its own URL
            views = [browser.eval("new URLSearchParams(location.search).get('view')")]
            for _ in range(2):
                browser.eval("document.querySelector('#v-near a').click()")
                wait_until(browser, f"new URLSearchParams(location.search).get('view') !== '{views[-1]}' && "
                                    "document.getElementById('viewer').dataset.shown === "
                                    "new URLSearchParams(location.search).get('view')")
                views.append(browser.eval("new URLSearchParams(location.search).get('view')"))
            assert len(set(views)) == 3, views

            # back goes to the previous view, forward again
            browser.eval("history.back()")
            wait_until(browser, f"new URLSearchParams(location.search).get('view') === '{views[1]}'")
            browser.eval("history.forward()")
            wait_until(browser, f"new URLSearchParams(location.search).get('view') === '{views[2]}'")

            # arrows move through the result list, Esc closes, `s` shows photos like the open one
            browser.eval("document.querySelectorAll('.tile a')[0].click()")
            wait_until(browser, "document.getElementById('v-name').textContent === " + repr(XSS))
            order = browser.eval("[...document.querySelectorAll('.tile')].map(t => t.dataset.id)")
            press(browser, "ArrowRight")
            wait_until(browser, f"new URLSearchParams(location.search).get('view') === '{order[1]}'")
            press(browser, "ArrowLeft")
            wait_until(browser, f"new URLSearchParams(location.search).get('view') === '{order[0]}'")
            press(browser, "Escape")
            wait_until(browser, "document.getElementById('viewer').hidden && location.search === '?q=magenta'")
            browser.eval("document.querySelectorAll('.tile a')[1].click()")
            wait_until(browser, "!document.getElementById('viewer').hidden")
            press(browser, "s", "KeyS", "s")
            wait_until(browser, f"location.search === '?like={order[1]}' && document.querySelectorAll('.tile').length > 0")
            assert order[1] not in browser.eval("[...document.querySelectorAll('.tile')].map(t => t.dataset.id)")

            # a filter chip from the filter panel, removed again by its ×
            browser.send("Page.navigate", url=server.url.rstrip("/") + "/?album=Trip")
            wait_until(browser, "document.querySelectorAll('.tile').length === 2 && "
                                "document.querySelectorAll('#chips .chip').length === 1")
            browser.eval("document.querySelector('#chips .chip').click()")
            wait_until(browser, "document.querySelectorAll('.tile').length === 8")

            # a phone: 3-4 columns, and the full view stacked under the photo
            browser.send("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=3, mobile=True)
            browser.send("Page.navigate", url=server.url)
            wait_until(browser, "document.querySelectorAll('.tile img').length === 8")
            columns = browser.eval("getComputedStyle(document.getElementById('grid')).gridTemplateColumns.split(' ').length")
            assert 3 <= columns <= 4, columns
            shoot(browser, tmp_path, "grid-phone")
            browser.eval("document.querySelector('.tile a').click()")
            wait_until(browser, "document.getElementById('v-img').naturalWidth > 0")
            close = browser.eval("(() => { const r = document.getElementById('v-close').getBoundingClientRect(); "
                                 "return r.width > 20 && r.height > 20 && r.top >= 0; })()")
            assert close
            shoot(browser, tmp_path, "view-phone")
            assert problems(browser) == []
        finally:
            browser.close()
