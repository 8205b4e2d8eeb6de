"""Hostile input, faults and races (issue 10): each case becomes one line, the run goes on, and
nothing hangs. Tests are named after the issue's case numbers; they run the real CLI in real
processes on real files (FIFOs, bind mounts, tmpfs, SIGKILL) and skip, saying why, where this
machine cannot make the fault."""
from __future__ import annotations

import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

import pytest

from photos import jpeg, write, write_jpeg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import lightroom  # noqa: E402
import takeout_fixtures as tf  # noqa: E402

TINY = "tiny_embedder:make"


def run(trove, *args, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI as a real process that must finish within `timeout` (a hang fails the test)."""
    p = trove.popen(*map(str, args), env=env)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail(f"trove {' '.join(map(str, args))} hung for {timeout} s")
    assert "Traceback" not in err, err
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def rows(trove, sql: str, *args) -> list[tuple]:
    db = sqlite3.connect(trove.library / "catalog.db")
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trove: "), result.stderr
    return lines[0]


def mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


# -- 1: an EXIF value that does not parse ---------------------------------------------------------
def test_case_01_an_exif_value_that_does_not_parse_never_blocks_a_folder(trove, tmp_path):
    src = tmp_path / "pics"
    for i in range(30):
        write_jpeg(src / f"good_{i:02d}.jpg", seed=i, taken="2019:07:14 10:30:00", offset="+02:00")
    bad = {"hours_25.jpg": dict(taken="2019:07:14 21:00:00", offset="+25:00"),
           "year_9999.jpg": dict(taken="9999:12:31 23:59:59", offset="-05:00"),
           "minutes_75.jpg": dict(taken="2019:07:14 21:00:00", offset="+01:75"),
           "not_a_date.jpg": dict(taken="yesterday, 9ish", offset="+01:00")}
    for n, (name, kw) in enumerate(bad.items()):
        write_jpeg(src / name, seed=100 + n, **kw)
    first = run(trove, "ingest", "folder", src, "--no-embed")
    assert first.returncode == 0, first.stderr
    again = run(trove, "ingest", "folder", src, "--no-embed", "--json")
    assert json.loads(again.stdout)["discover.unchanged"] == 34  # nothing left unread to retry
    by_name = {os.path.basename(p["path"]): p for p in trove.json_lines("list")}
    assert len(by_name) == 34
    assert by_name["hours_25.jpg"]["taken_at"] == "2019-07-14T21:00:00"  # the offset dropped, not the date
    assert any("+25:00" in n for n in by_name["hours_25.jpg"]["meta"]["exif"]["notes"])
    assert by_name["year_9999.jpg"]["taken_at"] == "9999-12-31T23:59:59"
    assert by_name["not_a_date.jpg"]["taken_at"] is None and by_name["not_a_date.jpg"]["meta"]["exif"]["notes"]
    assert (by_name["good_00.jpg"]["taken_at"], by_name["good_00.jpg"]["utc_offset"]) == ("2019-07-14T10:30:00", "+02:00")


# -- 2: a sidecar nested beyond what a parser can follow ---------------------------------------------
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("form", ["zip", "tgz", "folder"])
def test_case_02_a_deeply_nested_sidecar_is_one_error_row(trove, tmp_path, form):
    files = {"Photos from 2019/good.jpg": tf.jpeg(1), "Photos from 2019/good.jpg.json": tf.sidecar("good.jpg"),
             "Photos from 2019/deep.jpg": tf.jpeg(2), "Photos from 2019/deep.jpg.json": DEEP}
    if form == "folder":
        tf.write_folder(str(tmp_path / "x"), [("Takeout/Google Photos/" + k, v) for k, v in files.items()])
        paths = [tmp_path / "x" / "Takeout"]
    else:
        paths = tf.takeout(str(tmp_path / "parts"), [files], fmt=form)
    r = run(trove, "ingest", "takeout", *paths, "--no-embed", "--json")
    assert r.returncode == 1, r.stderr
    assert rows(trove, "SELECT stage, kind FROM errors") == [("discover", "bad-json")]
    taken = {os.path.basename(p["path"].split("!")[-1]): (p["taken_at"], p["utc_offset"])
             for p in trove.json_lines("list")}
    # the camera's wall clock; the sidecar's UTC instant gives the offset where the sidecar could be read
    assert taken == {"good.jpg": ("2019-07-14T10:30:00", "+00:00"), "deep.jpg": ("2019-07-14T10:30:00", None)}


# -- 3: file names that are not UTF-8, in every source --------------------------------------------
LATIN1 = os.fsdecode(b"caf\xe9")   # 'café' written by an old Windows camera app: not UTF-8


def assert_openable(trove, expected: int) -> None:
    """Every catalogued path round-trips through `list --json` and opens (the bytes were kept)."""
    listed = trove.json_lines("list")
    assert len(listed) == expected
    for p in listed:
        loc = p["locations"][0]
        assert os.path.isfile(loc["path"]), loc
    return listed


def test_case_03_names_that_are_not_utf8_in_a_folder_and_as_the_folder_itself(trove, tmp_path):
    root = tmp_path / f"vacances {LATIN1}"   # the folder argument itself
    write_jpeg(root / f"{LATIN1}.jpg", seed=1)
    write_jpeg(root / "plain.jpg", seed=2)
    write_jpeg(root / LATIN1 / "inside.jpg", seed=3)
    r = run(trove, "ingest", "folder", root, "--no-embed")
    assert r.returncode == 0, r.stderr
    assert os.fsencode(str(root)) in r.stdout.encode("utf-8", "surrogateescape")  # printed as its own bytes
    listed = assert_openable(trove, 3)
    assert {os.fsencode(p["path"]) for p in listed} >= {os.fsencode(str(root / f"{LATIN1}.jpg"))}
    assert run(trove, "status").returncode == 0 and run(trove, "list").returncode == 0
    assert run(trove, "ingest", "folder", root, "--no-embed", "--json").returncode == 0  # re-run: unchanged


def test_case_03_names_that_are_not_utf8_in_a_takeout_folder_and_a_tgz(trove, tmp_path):
    name = f"Takeout/Google Photos/Photos from 2019/{LATIN1}.jpg"
    tf.write_folder(str(tmp_path / "x"), [(name, tf.jpeg(1)), (name + ".json", tf.sidecar("café.jpg")),
                                          ("Takeout/Google Photos/Photos from 2019/ok.jpg", tf.jpeg(2))])
    tgz = tmp_path / "takeout-20240712T112341Z-001.tgz"
    with tarfile.open(tgz, "w:gz", format=tarfile.GNU_FORMAT, encoding="utf-8", errors="surrogateescape") as t:
        for member, data in ((name.replace(".jpg", "-tar.jpg"), tf.jpeg(3)),
                             ("Takeout/Google Photos/Photos from 2019/ok-tar.jpg", tf.jpeg(4))):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    r = run(trove, "ingest", "takeout", tmp_path / "x" / "Takeout", tgz, "--no-embed")
    assert r.returncode == 0, r.stderr
    entries = {os.fsencode(p["path"].split("!")[-1]).rsplit(b"/", 1)[-1] for p in trove.json_lines("list")}
    assert entries == {b"caf\xe9.jpg", b"ok.jpg", b"caf\xe9-tar.jpg", b"ok-tar.jpg"}
    assert run(trove, "report", "--limit", "10").returncode == 0   # thumbnails read the members back


def test_case_03_names_that_are_not_utf8_in_a_lightroom_cache(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    shard = next(Path(lib.lrdata).glob("*/*/"))
    os.rename(shard, shard.with_name(LATIN1))  # a shard folder renamed by a tool of another encoding
    r = run(trove, "ingest", "lrprev", lib.lrdata, "--no-embed")
    assert r.returncode == 0, r.stderr
    assert_openable(trove, 8)


# -- 4: FIFOs named like what a source opens ------------------------------------------------------
def test_case_04_a_fifo_named_like_a_preview_or_a_catalog_never_hangs(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    fifo = Path(lib.preview(lightroom.uuid_of(0x777), lightroom.digest_of(0x777)))
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    os.mkfifo(tmp_path / "x.lrcat")
    r = run(trove, "ingest", "lrprev", lib.lrdata, "--no-embed", timeout=60)
    assert r.returncode == 1 and rows(trove, "SELECT kind, path FROM errors") == [("not-a-file", str(fifo))]
    out = tmp_path / "out"
    r = run(trove, "recover", "lrprev", lib.lrdata, "--out", out, "--json", timeout=60)
    assert r.returncode == 1 and json.loads(r.stdout)["errors"] == 1
    assert len(list(out.rglob("*.jpg"))) == 8
    r = run(trove, "ingest", "lrprev", lib.lrdata, "--catalog", tmp_path / "x.lrcat", "--no-embed", timeout=60)
    assert r.returncode == 2 and "not a regular file" in one_line(r)
    pics = tmp_path / "pics"
    write_jpeg(pics / "a.jpg", seed=1)
    os.mkfifo(pics / "b.jpg")
    os.mkfifo(pics / "takeout-20240712T112341Z-001.zip")
    assert run(trove, "ingest", "folder", pics, "--no-embed", timeout=60).returncode == 0
    assert run(trove, "ingest", "takeout", pics, "--no-embed", timeout=60).returncode in (0, 1)
    # a FIFO named like the folder's rules file is not read (it would wait for a writer forever)
    rules = tmp_path / "rules"
    write_jpeg(rules / "c.jpg", seed=3)
    os.mkfifo(rules / ".troveignore")
    assert run(trove, "ingest", "folder", rules, "--no-embed", timeout=60).returncode == 0
    assert ("c.jpg",) in [(os.path.basename(p),) for (p,) in rows(trove, "SELECT path FROM locations")]


# -- 5: a photo that cannot be thumbnailed ---------------------------------------------------------
def test_case_05_a_photo_that_cannot_be_thumbnailed_is_a_placeholder_with_the_reason(trove, tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    import struct

    import numpy as np
    from PIL import Image

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 96, 3)).astype("uint8")).save(buf, "HEIF")
    heic = bytearray(buf.getvalue())
    at = heic.find(b"ispe")
    struct.pack_into(">II", heic, at + 8, 9600, 6400)   # the size box says 100x what the image holds
    write(tmp_path / "pics" / "damaged.heic", bytes(heic))
    write_jpeg(tmp_path / "pics" / "fine.jpg", seed=1)
    assert run(trove, "ingest", "folder", tmp_path / "pics", "--no-embed").returncode == 0  # ingest accepts it
    page = tmp_path / "g.html"
    r = run(trove, "report", "--out", page)
    assert r.returncode == 0, r.stderr
    html = page.read_text()
    assert html.count('class="nothumb"') == 1 and "does not have the size signaled" in html
    assert html.count('src="data:image/jpeg;base64,') == 1


# -- 6: an XMP blob that inflates to gigabytes ----------------------------------------------------
PEAK_PROBE = ("import os, sys\n"
              "def peak():\n"
              "    with open('/proc/self/status') as f:\n"
              "        kb = next(int(line.split()[1]) for line in f if line.startswith('VmHWM:'))\n"
              "    with open(os.environ['TROVE_TEST_PEAK_FILE'], 'w') as out:\n"
              "        out.write(str(kb))\n"
              "sys.argv = ['trove'] + sys.argv[1:]\n"
              "from phototrove.cli import main\n"
              "try:\n"
              "    main(prog_name='trove')\n"   # (main, not the entry point: no quick exit skipping this)
              "finally:\n"
              "    peak()\n")


def peak_of(trove, *args, timeout: int = 120) -> tuple[int, str, float]:
    """(exit code, stderr, peak RSS in MB) of the CLI as a process of its own, as the process itself
    sees it at exit (VmHWM of its own memory). Not rusage: Linux carries into a child's ru_maxrss
    the resident size of the process it was forked from (here the test process, 1.6 GB late in a
    full run), whether read by RUSAGE_CHILDREN or wait4."""
    peak_file = trove.library.parent / "peak-kb"
    p = subprocess.run([sys.executable, "-c", PEAK_PROBE, "--library", str(trove.library), "--quiet",
                        *map(str, args)], env={**trove.env(), "TROVE_TEST_PEAK_FILE": str(peak_file)},
                       capture_output=True, text=True, errors="surrogateescape", timeout=timeout)
    return p.returncode, p.stderr, int(peak_file.read_text()) / 1024


def test_case_06_an_xmp_bomb_in_the_catalog_is_one_error_row(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    z = zlib.compressobj(9)
    chunk = b"<" + b" " * (64 << 20)
    blob = b"".join(z.compress(chunk) for _ in range(48)) + z.flush()   # 3 GB of XMP in ~3 MB
    db = sqlite3.connect(lib.catalog)
    db.execute("UPDATE Adobe_AdditionalMetadata SET xmp=? WHERE image=1",
               ((len(chunk) * 48).to_bytes(4, "big") + blob,))
    db.commit()
    db.close()
    code, err, peak_mb = peak_of(trove, "ingest", "lrprev", lib.lrdata, "--no-embed")
    assert code == 1 and "Traceback" not in err, err
    assert rows(trove, "SELECT kind FROM errors") == [("xmp-too-large",)]
    assert peak_mb < 1500, peak_mb
    assert len(trove.json_lines("list")) == 8   # every photo still ingested, that one without a title


# -- 7: a damaged catalog -------------------------------------------------------------------------
@pytest.fixture
def small_library(trove, tmp_path):
    for i in range(40):
        write_jpeg(tmp_path / "pics" / f"{i}.jpg", seed=i, taken="2019:07:14 10:30:00")
    assert run(trove, "ingest", "folder", tmp_path / "pics", "--model", TINY).returncode == 0
    return trove


def test_case_07_a_damaged_catalog_page_is_said_in_one_line(small_library, tmp_path):
    trove = small_library
    path = trove.library / "catalog.db"
    data = bytearray(path.read_bytes())
    page = 4096
    for at in range(page, len(data), page):   # every page but the first: the tables, the indexes
        data[at + 100:at + 3000] = random.Random(at).randbytes(2900)
    path.write_bytes(bytes(data))
    for args in (["list"], ["status"], ["search", "red", "--model", TINY], ["similar", "1"], ["report"],
                 ["index", "sync"], ["ingest", "folder", tmp_path / "pics", "--no-embed"]):
        r = run(trove, *args)
        assert r.returncode == 3, (args, r.stderr)
        assert "the catalog is damaged" in one_line(r) and "integrity check" in r.stderr, (args, r.stderr)


def test_case_07_an_empty_catalog_file_is_not_a_new_library(small_library, tmp_path):
    trove = small_library
    (trove.library / "catalog.db").write_bytes(b"")
    for wal in trove.library.glob("catalog.db-*"):
        wal.unlink()
    r = run(trove, "ingest", "folder", tmp_path / "pics", "--no-embed")
    assert r.returncode == 3 and "empty (0 bytes)" in one_line(r)
    assert (trove.library / "catalog.db").stat().st_size == 0   # nothing written over it
    assert run(trove, "status").returncode == 3


# -- 8: a read-only library -----------------------------------------------------------------------
def test_case_08_a_read_only_library(small_library, tmp_path):
    trove = small_library
    view = tmp_path / "ro"
    view.mkdir()
    # a writer killed after a commit leaves its changes in the -wal: read through a private copy
    killed = subprocess.run([sys.executable, "-c", "import os, signal, sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
                             "db.execute('PRAGMA wal_autocheckpoint=0'); db.execute('CREATE TABLE _pending(x)'); "
                             "db.commit(); os.kill(os.getpid(), signal.SIGKILL)", str(trove.library / "catalog.db")])
    assert killed.returncode == -9 and (trove.library / "catalog.db-wal").stat().st_size > 0
    if not (mount("--bind", str(trove.library), str(view)) and mount("-o", "remount,bind,ro", str(view))):
        pytest.skip("cannot make a read-only bind mount here (needs CAP_SYS_ADMIN)")
    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("trove-readonly-*"))
    try:
        ro = type(trove)(view)
        r = run(ro, "ingest", "folder", tmp_path / "pics", "--no-embed")
        assert r.returncode == 3 and "read-only" in one_line(r)
        assert run(ro, "index", "sync").returncode == 3
        for args in (["status"], ["list"], ["search", "red", "--model", TINY], ["similar", "1"]):
            r = run(ro, *args)
            assert r.returncode == 0, (args, r.stderr)
        assert len(ro.json_lines("search", "red", "--model", TINY)) == 20
        assert set(tmp.glob("trove-readonly-*")) == before      # the private copies are gone
    finally:
        subprocess.run(["umount", str(view)])


# -- 9: the disk fills while a report is written ---------------------------------------------------
def test_case_09_disk_full_while_a_report_writes(small_library, tmp_path):
    trove = small_library
    full = tmp_path / "full"
    full.mkdir()
    if not mount("-t", "tmpfs", "-o", "size=48k", "tmpfs", str(full)):
        pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
    try:
        r = run(trove, "report", "--out", full / "gallery.html")
        assert r.returncode == 3 and "is full" in one_line(r) and "free space" in r.stderr
        assert list(full.iterdir()) == []   # no temporary file left behind
        thumbs = trove.library / "thumbs"
        shutil.rmtree(thumbs, ignore_errors=True)
        thumbs.mkdir()
        assert mount("-t", "tmpfs", "-o", "size=16k", "tmpfs", str(thumbs))
        try:
            r = run(trove, "report", "--out", tmp_path / "g.html")
            assert r.returncode == 3 and "is full" in one_line(r)
            assert not [p for p in thumbs.rglob("*") if p.name.endswith(".tmp")]
        finally:
            subprocess.run(["umount", str(thumbs)])
    finally:
        subprocess.run(["umount", str(full)])


# -- 10: readers beside a rebuild, reports side by side --------------------------------------------
def test_case_10_three_reports_at_once_and_readers_during_a_rebuild(small_library, tmp_path):
    trove = small_library
    out = tmp_path / "same.html"
    procs = [trove.popen("report", "--out", str(out)) for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0 and "Traceback" not in err, err
    assert out.read_text().count("<figure") == 40 and not list(tmp_path.glob(".same.html*"))
    rebuild = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys\nfor _ in range(6):\n"
         f"    subprocess.run({[sys.executable, '-m', 'phototrove.cli', '--library', str(trove.library), '-q', 'index', 'rebuild']!r})"],
        env=trove.env())
    try:
        while rebuild.poll() is None:
            r = run(trove, "report", "duplicates", "--json")
            assert r.returncode in (0, 3), r.stderr
            if r.returncode == 3:
                said = one_line(r)   # a clear line: who is writing, or to run it again
                assert "being written by another trove" in said or "run this again" in said \
                    or "nothing is indexed" in said, said
    finally:
        rebuild.wait(timeout=300)


# -- 11: rebuilding a model the library does not have ----------------------------------------------
def test_case_11_index_rebuild_of_an_unknown_model_is_a_usage_error(small_library):
    trove = small_library
    before = (trove.library / "index.json").read_bytes()
    r = run(trove, "index", "rebuild", "--model", "nope")
    assert r.returncode == 2 and "no embeddings for model 'nope'" in one_line(r)
    assert (trove.library / "index.json").read_bytes() == before


# -- 12, 13: recover writes only complete files, only inside --out ----------------------------------
def recovered(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.jpg"))
            if ".trove-partial" not in p.parts}


def test_case_12_recover_never_writes_outside_out_whatever_the_manifest_says(trove, tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    out = tmp_path / "deep" / "out"
    assert run(trove, "recover", "lrprev", lib.lrdata, "--out", out).returncode == 0
    manifest = out / ".trove-recover.jsonl"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    hostile = ["../escaped.jpg", str(tmp_path / "absolute.jpg"), "a/../../../up.jpg", ".trove-partial/x.jpg",
               "ok/../../sideways.jpg", "C:/x.jpg", "a\\..\\..\\b.jpg"]
    for rec, bad in zip(lines, hostile):
        rec["file"] = bad
    manifest.write_text("".join(json.dumps(rec) + "\n" for rec in lines))
    for p in out.rglob("*.jpg"):
        p.unlink()
    assert run(trove, "recover", "lrprev", lib.lrdata, "--out", out).returncode == 0
    outside = [p for p in tmp_path.rglob("*.jpg") if out not in p.parents and "lr" not in p.parts]
    assert outside == []
    assert len(recovered(out)) == 8


def test_case_13_sigkill_during_recover_leaves_no_partial_file_under_a_real_name(trove, tmp_path):
    """SIGKILL lands exactly at the Nth write or in-kernel copy of the output (strace injects it),
    18 trials: a real name never holds a partial file, and the resume gives the same folder."""
    if not shutil.which("strace"):
        pytest.skip("strace is needed to kill the process at a chosen system call")
    lib = lightroom.make_library(str(tmp_path / "lr"), sides=(160, 640, 2400))   # levels the kernel copies
    reference = tmp_path / "reference"
    assert run(trove, "recover", "lrprev", lib.lrdata, "--out", reference).returncode == 0
    want = recovered(reference)
    rng = random.Random(13)
    for trial in range(18):
        out = tmp_path / f"out{trial}"
        call = "write" if trial % 2 else "copy_file_range"
        nth = rng.randint(1, 10 if call == "write" else 6)   # (this cache takes 13 writes, 7 copies)
        killed = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={call}",
                                 "-e", f"inject={call}:signal=KILL:when={nth}",
                                 sys.executable, "-m", "phototrove.cli", "--library", str(trove.library), "-q",
                                 "recover", "lrprev", str(lib.lrdata), "--out", str(out), "--workers", "1"],
                                env=trove.env(), capture_output=True, timeout=120)   # one thread: the Nth call is exact
        assert killed.returncode != 0, (trial, call, nth, killed.stderr)   # it really was killed mid-run
        for rel, data in recovered(out).items():  # a real name only ever holds a complete file
            assert data == want[rel], (trial, call, nth, rel, len(data), len(want[rel]))
        assert run(trove, "recover", "lrprev", lib.lrdata, "--out", out).returncode == 0
        assert recovered(out) == want, trial   # same names (no `-2` twins), same bytes
        assert not (out / ".trove-partial").exists()


# -- 14: error rows do not multiply; content errors are not retried --------------------------------
def test_case_14_error_rows_do_not_multiply_and_content_errors_are_not_retried(trove, tmp_path):
    files = {"Photos from 2019/a.jpg": tf.jpeg(1), "Photos from 2019/a.jpg.json": b"{not json",
             "Photos from 2019/b.jpg": tf.jpeg(2), "Photos from 2019/b.jpg.json": b"[1, 2",
             "Photos from 2019/bomb.jpg": b"\xff\xd8" + b"\x00" * (64 << 20)}
    part, = tf.takeout(str(tmp_path / "parts"), [files], media_stored=False)
    counts = []
    for _ in range(4):
        r = run(trove, "ingest", "takeout", part, "--no-embed", "--json")
        counts.append((json.loads(r.stdout)["errors"], json.loads(r.stdout).get("read.errors", 0)))
    assert counts == [(3, 1), (3, 0), (3, 0), (3, 0)]   # the bomb is refused once, not inflated every run
    assert rows(trove, "SELECT stage, kind FROM errors ORDER BY stage, kind") == [
        ("discover", "bad-json"), ("discover", "bad-json"), ("read", "zip-bomb")]


# -- 15: a file replaced between discovery and reading, then restored --------------------------------
def test_case_15_the_signature_recorded_is_the_one_of_the_bytes_hashed(tmp_path):
    from phototrove.catalog import Catalog
    from phototrove.crawler import Crawler
    from phototrove.ingest.folder import FolderSource

    src = tmp_path / "pics"
    original = write_jpeg(src / "a.jpg", seed=1)
    first_bytes, first = original.read_bytes(), original.stat()
    with Catalog(tmp_path / "c.db") as cat:
        crawler = Crawler(cat, show_progress=False)
        crawler.run(FolderSource(str(src)), stages=("discover",))
        write(original, jpeg(seed=2))              # replaced before the read stage runs...
        os.utime(original, ns=(first.st_atime_ns, first.st_mtime_ns + 5_000_000_000))
        crawler.run(FolderSource(str(src)), stages=("read",))
        write(original, first_bytes)               # ...and restored with its old mtime (rsync -a)
        os.utime(original, ns=(first.st_atime_ns, first.st_mtime_ns))
        crawler.run(FolderSource(str(src)))
        import hashlib

        assert [r[0] for r in cat.db.execute("SELECT p.hash FROM photos p JOIN locations l ON l.photo_id=p.id")] \
            == [hashlib.sha256(first_bytes).hexdigest()]


# -- 16: the same member name twice in one archive --------------------------------------------------
@pytest.mark.parametrize("form", ["zip", "tgz"])
def test_case_16_of_two_members_with_one_name_the_last_is_read_and_said(trove, tmp_path, form):
    import hashlib

    name = "Takeout/Google Photos/Photos from 2019/twice.jpg"
    first, last = tf.jpeg(1), tf.jpeg(2)
    path = tmp_path / f"takeout-20240712T112341Z-001.{form}"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # zipfile warns about the duplicate name it is told to write
        if form == "zip":
            tf.write_zip(str(path), [(name, first), (name, last)])
        else:
            tf.write_tgz(str(path), [(name, first), (name, last)])
    r = run(trove, "ingest", "takeout", path, "--no-embed")
    assert r.returncode == 1
    (message,), = rows(trove, "SELECT message FROM errors WHERE kind='duplicate-entry'")
    assert "the last copy is read" in message
    assert [p["hash"] for p in trove.json_lines("list")] == [hashlib.sha256(last).hexdigest()]


# -- 17: a search after embedding stopped before the index stage ------------------------------------
def test_case_17_search_after_a_crash_mid_embedding_with_a_local_model(trove, tmp_path):
    from embed_fixtures import model_dir

    for i in range(6):
        write_jpeg(tmp_path / "pics" / f"{i}.jpg", seed=i)
    model = model_dir("onnx", "clip-tiny")
    # the index stage cannot run (a dead Chroma server): the embeddings are committed, the index is not
    r = run(trove, "--chroma-url", "http://127.0.0.1:9", "ingest", "folder", tmp_path / "pics", "--model", model)
    assert r.returncode == 3
    r = run(trove, "search", "a cat")
    assert r.returncode == 3 and "trove index sync" in one_line(r)   # not "unknown model" (exit 2)
    assert run(trove, "index", "sync").returncode == 0
    assert len(trove.json_lines("search", "a cat")) == 6


# -- 18: exit codes ---------------------------------------------------------------------------------
def test_case_18_exit_codes_follow_the_readme(small_library):
    trove = small_library
    for args in (["similar", "1", "--model", "nope"], ["report", "--model", "nope"],
                 ["report", "duplicates", "--model", "nope"]):
        r = run(trove, *args)
        assert r.returncode == 2 and "no embeddings for model 'nope'" in one_line(r), args
    for text in ("", "   ", "3:", "2: "):
        r = run(trove, "search", text, "--model", TINY)
        assert r.returncode == 2 and "nothing to search for" in one_line(r), text
    assert run(trove, "search", "red", "--plus", "", "--model", TINY).returncode == 2
    p = subprocess.Popen([sys.executable, "-m", "phototrove.cli", "--library", str(trove.library), "list", "--json"],
                         env=trove.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    import fcntl

    fcntl.fcntl(p.stdout.fileno(), 1031, 4096)  # F_SETPIPE_SZ: less room than the output needs
    p.stdout.read(10)
    p.stdout.close()   # `trove list | head -c 10`
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141 and err == "", err


# -- 19, 20: the terminal ---------------------------------------------------------------------------
def on_a_terminal(trove, *args, timeout: float = 120) -> str:
    """Run the CLI with stderr on a pseudo-terminal (so progress bars are live); all it printed."""
    import pty
    import select

    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # a terminal 120 columns wide
    p = subprocess.Popen([sys.executable, "-m", "phototrove.cli", "--library", str(trove.library), *map(str, args)],
                         env=trove.env(), stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
    os.close(master)
    p.wait(timeout=30)
    return b"".join(chunks).decode("utf-8", "replace")


def test_case_19_per_file_lines_never_split_a_live_bar(trove, tmp_path):
    src = tmp_path / "pics"
    for i in range(300):
        write_jpeg(src / f"{i:03d}.jpg", w=320, h=240, seed=i)
        if i % 30 == 0:
            write(src / f"{i:03d}_broken.jpg", b"not a photo at all")
    text = on_a_terminal(trove, "ingest", "folder", src, "--no-embed", "--workers", "1", "--batch-size", "4")
    assert text.count("error: ") == 10 and "read:" in text, text[-2000:]   # the bar was live
    for at in [i for i in range(len(text)) if text.startswith("error: ", i)]:
        assert at == 0 or text[at - 1] in "\r\n", repr(text[max(0, at - 80):at + 20])  # never after a bar
    lib = lightroom.make_library(str(tmp_path / "lr"))
    db = sqlite3.connect(lib.catalog)
    db.execute("UPDATE Adobe_variablesTable SET value='2500001' WHERE name='Adobe_DBVersion'")
    db.commit()
    db.close()
    noisy = on_a_terminal(trove, "ingest", "lrprev", lib.lrdata, "--no-embed")
    quiet = on_a_terminal(trove, "-q", "ingest", "lrprev", lib.lrdata, "--no-embed")
    assert "2500001" in noisy and "2500001" not in quiet   # -q silences notes


def test_case_20_the_first_report_shows_a_bar_while_it_makes_thumbnails(small_library):
    # the ingest made the thumbnails (from the decode for the model), and the lightbox shows the
    # original files: nothing is left to make, and no bar
    text = on_a_terminal(small_library, "report")
    assert "px views:" not in text and "thumbnails:" not in text, text[-1000:]
    for f in (small_library.library / "thumbs").glob("*/*-320.jpg"):   # a library ingested before that
        f.unlink()
    text = on_a_terminal(small_library, "report")
    assert "thumbnails:" in text, text[-1000:]
