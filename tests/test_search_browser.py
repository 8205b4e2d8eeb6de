"""The HTML gallery in a real headless Chromium, driven over the DevTools protocol: it loads from
file:// with no network request, logs no console error or CSP violation, shows every thumbnail,
renders the file named like an XSS payload as text (no alert dialog), and its lightbox shows the
metadata and precomputed "more like this" thumbnails. A screenshot is kept next to the page."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from search_support import XSS, build_library, stop_process

BROWSER = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium", shutil.which("chromium-browser"),
                            shutil.which("google-chrome")) if p and os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine (CI installs Debian's "
                                                        "`chromium`; this test never installs one)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900"]


class DevTools:
    """The smallest DevTools client: send commands, collect every event."""

    def __init__(self, profile: Path):
        ws = pytest.importorskip("websockets.sync.client")
        self.proc = subprocess.Popen([BROWSER, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                      "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self._connection = ws.connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        self.ws = self._connection.__enter__()
        self.next_id, self.events = 0, []

    def send(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e.get("method") == method for e in self.events):
                return
            try:
                self.events.append(json.loads(self.ws.recv(timeout=0.5)))
            except TimeoutError:
                pass
        raise AssertionError(f"no {method} within {timeout}s")

    def eval(self, expression: str):
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in res, res
        return res["result"].get("value")

    def close(self) -> None:
        if hasattr(self, "_connection"):
            self._connection.__exit__(None, None, None)
        stop_process(self.proc)


def test_gallery_in_headless_chromium(tmp_path):
    trove, paths = build_library(tmp_path / "lib", None)
    page = tmp_path / "out" / "gallery.html"
    trove("search", "magenta", "--html", page)
    with trove.catalog() as cat:
        xss_id = cat.db.execute("SELECT photo_id FROM locations WHERE path=?", (str(paths[XSS]),)).fetchone()[0]

    browser = DevTools(tmp_path / "profile")
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable")
        browser.send("Page.navigate", url=page.as_uri())
        browser.wait_for("Page.loadEventFired")
        widths = browser.eval("Array.from(document.querySelectorAll('.grid img')).map(i => i.naturalWidth)")
        assert len(widths) == 8 and all(w > 0 for w in widths), widths
        assert browser.eval("document.querySelectorAll('img[src=\"x\"]').length") == 0
        names = browser.eval("Array.from(document.querySelectorAll('.tile .name')).map(e => e.textContent)")
        assert XSS in names  # the payload is a file name shown as text

        # the lightbox of the XSS-named photo: metadata as text, "more like this" thumbnails loaded
        browser.eval(f"location.hash = '#photo-{xss_id}'")
        time.sleep(0.3)
        box = browser.eval("""(() => { const b = document.getElementById('lightbox');
            return {hidden: b.hidden, name: document.getElementById('lb-name').textContent,
                    more: Array.from(document.querySelectorAll('#lb-more img')).map(i => i.naturalWidth),
                    big: document.getElementById('lb-img').naturalWidth,
                    rows: Array.from(document.querySelectorAll('#lb-meta tr')).map(r => r.textContent)}; })()""")
        assert box["hidden"] is False and box["name"].endswith(XSS) and box["big"] > 0
        assert len(box["more"]) >= 3 and all(w > 0 for w in box["more"])
        assert any(r.startswith("hash") for r in box["rows"])
        assert browser.eval("document.querySelectorAll('img[src=\"x\"]').length") == 0

        # the Rome photo's lightbox carries its albums, keywords, place and camera
        with trove.catalog() as cat:
            rome = cat.db.execute("SELECT photo_id FROM locations WHERE path=?",
                                  (str(paths["red_rome.jpg"]),)).fetchone()[0]
        browser.eval(f"location.hash = '#photo-{rome}'")
        time.sleep(0.2)
        rows = browser.eval("Array.from(document.querySelectorAll('#lb-meta tr')).map(r => r.textContent)")
        text = "\n".join(rows)
        assert "Trip to Rome" in text and "vacation" in text and "Canon EOS 5D" in text and "41.90280" in text
        assert "Colosseum <b>at noon</b>" in text  # markup in a title stays text

        shot = browser.send("Page.captureScreenshot", format="png")["data"]
        import base64
        import io

        from PIL import Image

        png = base64.b64decode(shot)
        (tmp_path / "out" / "gallery.png").write_bytes(png)
        with Image.open(io.BytesIO(png)) as im:
            assert im.size[0] >= 800 and len(im.convert("RGB").getcolors(1 << 20) or []) > 20  # not blank
        time.sleep(0.2)
        browser.eval("1")  # drain pending events
    finally:
        browser.close()

    methods = [e.get("method") for e in browser.events]
    assert "Page.javascriptDialogOpening" not in methods  # no alert(1)
    errors = [e["params"] for e in browser.events
              if (e.get("method") == "Runtime.exceptionThrown")
              or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []
    urls = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls


def test_library_gallery_months_large_views_arrows_and_phone(tmp_path):
    """`trove report`: month headers, a lightbox showing the 1600-px rendition written beside the
    page, a close button that stands out in light mode, previous/next by arrows and on screen, and
    3-4 columns on a phone."""
    trove, _paths = build_library(tmp_path / "lib", None)
    page = tmp_path / "out" / "report.html"
    trove("report", "--out", page)
    browser = DevTools(tmp_path / "profile")
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable")
        browser.send("Emulation.setEmulatedMedia", features=[{"name": "prefers-color-scheme", "value": "light"}])
        browser.send("Page.navigate", url=page.as_uri())
        browser.wait_for("Page.loadEventFired")
        months = browser.eval("[...document.querySelectorAll('.grid .month')].map(h => h.textContent)")
        assert months == ["May 2021", "March 2020", "July 2019", "No date"], months
        order = browser.eval("[...document.querySelectorAll('.tile')].map(t => t.dataset.id)")
        browser.eval(f"location.hash = '#photo-{order[0]}'")
        time.sleep(0.3)
        box = browser.eval("""(() => { const img = document.getElementById('lb-img');
            const close = getComputedStyle(document.querySelector('.lightbox .close'));
            return {src: img.getAttribute('src'), w: img.naturalWidth, bg: close.backgroundColor, fg: close.color,
                    next: !document.getElementById('lb-next').hidden, prev: !document.getElementById('lb-prev').hidden,
                    folder: document.getElementById('lb-folder').textContent}; })()""")
        assert box["src"].startswith("file:///") and box["w"] > 0, box   # the original itself, loaded
        assert box["bg"] not in ("rgba(0, 0, 0, 0)", "transparent") and box["fg"] == "rgb(255, 255, 255)", box
        assert box["next"] and not box["prev"] and box["folder"] == "Garden & <Friends>"
        for key, want in (("ArrowRight", order[1]), ("ArrowRight", order[2]), ("ArrowLeft", order[1])):
            for kind in ("keyDown", "keyUp"):
                browser.send("Input.dispatchKeyEvent", type=kind, key=key, code=key)
            time.sleep(0.2)
            assert browser.eval("location.hash") == f"#photo-{want}"
        browser.eval("document.getElementById('lb-next').click()")
        time.sleep(0.2)
        assert browser.eval("location.hash") == f"#photo-{order[2]}"
        (tmp_path / "out" / "lightbox-light.png").write_bytes(
            __import__("base64").b64decode(browser.send("Page.captureScreenshot", format="png")["data"]))

        browser.send("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=3, mobile=True)
        browser.eval("location.hash = '#'")
        time.sleep(0.3)
        columns = browser.eval("getComputedStyle(document.querySelector('.grid')).gridTemplateColumns.split(' ').length")
        assert 3 <= columns <= 4, columns
        browser.eval("1")
    finally:
        browser.close()
    errors = [e["params"] for e in browser.events if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert errors == []
    urls = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert all(u.startswith(("file:", "data:")) for u in urls), urls


def test_a_big_gallery_links_its_thumbnails_as_lazy_files(tmp_path, monkeypatch):
    """Over INLINE_MAX photos, thumbnails are files beside the page, loaded as they scroll into view."""
    from phototrove.search import report

    trove, _paths = build_library(tmp_path / "lib", None)
    monkeypatch.setattr(report, "INLINE_MAX", 4)
    page = tmp_path / "big.html"
    trove("report", "--out", page)
    html = page.read_text()
    assert html.count('loading="lazy"') == 8 and "data:image/jpeg" not in html
    assert len([f for f in (tmp_path / "big_files").iterdir() if f.name.endswith("-320.jpg")]) == 8
    trove("report", "--out", page, "--self-contained")   # on request: one file, everything inlined
    html = page.read_text()
    assert "data:image/jpeg" in html and 'loading="lazy"' not in html and "big_files/" not in html
    assert not any((tmp_path / "big_files").iterdir())   # the earlier page's pictures are cleaned up
