"""Each kind of bad input becomes one error row with its path and reason; the run goes on."""
import os
import shutil
import sqlite3

import pytest

from phototrove.catalog import Catalog
from phototrove.crawler import Crawler, DiskFull, Summary
from phototrove.ingest.folder import FolderSource
from phototrove.library import Library
from photos import jpeg, png_bomb, write, write_jpeg


def error_rows(trove) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(trove.library / "catalog.db")
    return db.execute("SELECT path, stage, kind FROM errors ORDER BY id").fetchall()


def ingest_with_one_bad_file(trove, tmp_path, name: str, data: bytes, kind: str):
    src = tmp_path / "pics"
    good = write_jpeg(src / "good.jpg", seed=1)
    bad = write(src / name, data)
    result = trove.run("ingest", "folder", str(src), "--no-embed")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert error_rows(trove) == [(str(bad), "read", kind)]
    assert "1 file(s) failed" in result.stdout and "trove status --errors" in result.stdout
    paths = [r["path"] for r in trove.json_lines("list")]
    assert paths == [str(good)]  # the run went on with the rest
    return result


def test_zero_byte_file(trove, tmp_path):
    ingest_with_one_bad_file(trove, tmp_path, "zero.jpg", b"", "empty")


def test_truncated_jpeg(trove, tmp_path):
    ingest_with_one_bad_file(trove, tmp_path, "cut.jpg", jpeg(640, 480, seed=3)[:5000], "truncated")


def test_text_file_named_jpg(trove, tmp_path):
    ingest_with_one_bad_file(trove, tmp_path, "notes.jpg", b"shopping list: milk, eggs\n", "not-an-image")


def test_image_bomb(trove, tmp_path):
    ingest_with_one_bad_file(trove, tmp_path, "bomb.png", png_bomb(30000, 30000), "too-large")


def test_unreadable_permissions(trove, tmp_path):
    src = tmp_path / "pics"
    write_jpeg(src / "good.jpg", seed=1)
    secret = write_jpeg(src / "secret.jpg", seed=2)
    secret.chmod(0)
    prefix = []
    if os.geteuid() == 0:  # root reads anything: run trove without the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("running as root and util-linux setpriv is missing: cannot drop DAC override")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    import subprocess
    import sys
    r = subprocess.run([*prefix, sys.executable, "-m", "phototrove.cli", "--library", str(trove.library),
                        "ingest", "folder", str(src), "--no-embed"], env=trove.env(), capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert f"error: {secret}: permission denied" in r.stderr and "Traceback" not in r.stderr
    assert error_rows(trove) == [(str(secret), "read", "unreadable")]
    secret.chmod(0o644)  # fixed by the user: the next run reads it
    assert trove.json_lines("ingest", "folder", str(src), "--no-embed")[0]["read.photos"] == 1


def test_path_vanishing_mid_run(tmp_path):
    src = tmp_path / "pics"
    write_jpeg(src / "stays.jpg", seed=1)
    gone = write_jpeg(src / "gone.jpg", seed=2)
    with Catalog(tmp_path / "lib" / "catalog.db") as cat:
        crawler = Crawler(cat, show_progress=False)
        source = FolderSource(str(src))
        sid = cat.ensure_source("folder", source.root)
        summary = Summary()
        crawler.discover(sid, source, summary)  # the file is seen ...
        gone.unlink()                           # ... and disappears before it is read
        crawler.read(sid, source, summary)
        assert summary.counts["read.photos"] == 1 and summary.counts["read.errors"] == 1
        assert [tuple(r) for r in cat.db.execute("SELECT path, kind FROM errors")] == [(str(gone), "vanished")]
        assert dict(cat.db.execute("SELECT path, state FROM locations")) == {
            str(src / "stays.jpg"): "ok", str(gone): "missing"}


def test_full_disk_keeps_what_was_committed(tmp_path):
    src = tmp_path / "pics"
    for i in range(40):
        write_jpeg(src / f"{i:02}.jpg", seed=i)
    path = tmp_path / "lib" / "catalog.db"
    with Catalog(path) as cat:
        cat.ensure_source("folder", str(src))
        used = cat.db.execute("PRAGMA page_count").fetchone()[0]
        cat.db.execute(f"PRAGMA max_page_count={used + 3}")  # SQLite's own SQLITE_FULL, a few pages on
        with pytest.raises(DiskFull, match="disk is full.*committed so far is kept"):
            Crawler(cat, batch_size=4, show_progress=False).run(FolderSource(str(src)))
        kept = cat.db.execute("SELECT count(*) FROM photos").fetchone()[0]
    with Catalog(path) as cat:  # space freed: the same run completes, nothing lost or doubled
        Crawler(cat, batch_size=4, show_progress=False).run(FolderSource(str(src)))
        assert cat.db.execute("SELECT count(*) FROM photos").fetchone()[0] == 40
        assert cat.db.execute("SELECT count(*) FROM locations WHERE state='ok'").fetchone()[0] == 40
    assert kept < 40


def test_second_writer_exits_with_a_clear_message(trove, tmp_path):
    write_jpeg(tmp_path / "pics" / "a.jpg")
    holder = Library(trove.library)
    holder.lock()
    try:
        r = trove.run("ingest", "folder", str(tmp_path / "pics"), "--no-embed")
        assert r.returncode == 3
        assert f"another trove process (pid {os.getpid()}) is writing to the library" in r.stderr
    finally:
        holder.unlock()
    assert trove.run("ingest", "folder", str(tmp_path / "pics"), "--no-embed").returncode == 0


def broken_png() -> bytes:
    """A PNG whose header and end are fine (so it is catalogued) but whose pixel data is damaged:
    it fails only when the embed stage decodes it."""
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3)).astype("uint8")).save(buf, "PNG")
    data = buf.getvalue()
    at = data.index(b"IDAT") + 24
    return data[:at] + bytes(b ^ 0x5A for b in data[at:at + 180]) + data[at + 180:]


def test_an_embed_error_is_counted_once_under_its_own_source(trove, tmp_path):
    """`ingest folder A B` with one file in A that cannot be decoded: 1 error on A, 0 on B, 1 failed."""
    a, b = tmp_path / "A", tmp_path / "B"
    write_jpeg(a / "good.jpg", seed=1)
    write(a / "broken.png", broken_png())
    write_jpeg(b / "fine.jpg", seed=2)
    result = trove("ingest", "folder", str(a), str(b), "--model", "tiny_embedder:make", code=1)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"folder {a}:") and lines[0].endswith("; 1 errors"), lines
    assert lines[1].startswith(f"folder {b}:") and lines[1].endswith("; 0 errors"), lines
    assert "1 file(s) failed" in result.stdout
    db = sqlite3.connect(trove.library / "catalog.db")
    (stage, source_root), = db.execute("SELECT e.stage, s.root FROM errors e JOIN sources s ON s.id=e.source_id")
    assert (stage, source_root) == ("embed", str(a))
