"""Folders as people keep them (NAS trees, other tools' caches, .troveignore, files named one by
one) and a CLI that behaves as its users expect (issue 20)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import click
import pytest

from photos import write, write_jpeg

TINY, COLOUR = "tiny_embedder:make", "colour_embedder:make"


def nas_tree(root):
    """A Synology share as people have it: real photos beside what the NAS and other tools keep."""
    write_jpeg(root / "2019" / "beach.jpg", seed=1)
    write_jpeg(root / "2019" / "dog.jpg", seed=2)
    write_jpeg(root / "2019" / "@eaDir" / "beach.jpg" / "SYNOPHOTO_THUMB_XL.jpg", seed=3)
    write_jpeg(root / "2019" / "@eaDir" / "dog.jpg" / "SYNOPHOTO_THUMB_M.jpg", seed=4)
    write_jpeg(root / "#recycle" / "old.jpg", seed=5)
    write_jpeg(root / "#snapshot" / "GMT+01_2024.01.01" / "2019" / "beach.jpg", seed=6)
    write_jpeg(root / "$RECYCLE.BIN" / "S-1-5-21" / "gone.jpg", seed=7)
    write_jpeg(root / ".Trash-1000" / "files" / "x.jpg", seed=8)
    write_jpeg(root / "code" / "node_modules" / "pkg" / "logo.png", seed=9)
    write_jpeg(root / "Lightroom" / "My Catalog Previews.lrdata" / "0" / "0000" / "a.jpg", seed=10)
    write_jpeg(root / "Photos Library.photoslibrary" / "originals" / "0" / "b.jpg", seed=11)
    write_jpeg(root / "memes" / "funny.png", seed=12)
    write_jpeg(root / "memes" / "keep.png", seed=13)
    write_jpeg(root / "memes" / "cat.jpg", seed=14)
    write(root / "memes" / ".troveignore", b"# no screenshots of memes\n*.png\n!keep.png\n")
    write_jpeg(root / "Screenshots" / "s1.jpg", seed=15)


def names(trove) -> set[str]:
    return {os.path.relpath(p["locations"][0]["path"], p["locations"][0]["path"].split("/share/")[0] + "/share")
            for p in trove.json_lines("list")}


# -- 1: folder sources --------------------------------------------------------------------------------
def test_nas_thumbnails_recycle_bins_and_other_tools_caches_are_left_out_and_said(trove, tmp_path):
    share = tmp_path / "share"
    nas_tree(share)
    r = trove("ingest", "folder", share, "--exclude", "Screenshots/", "--no-embed", "--json", quiet=False)
    summary = json.loads(r.stdout)
    assert names(trove) == {"2019/beach.jpg", "2019/dog.jpg", "memes/cat.jpg", "memes/keep.png"}
    assert summary["discover.excluded"] == 10
    reasons = {k.removeprefix("discover.excluded."): v for k, v in summary.items() if k.startswith("discover.excluded.")}
    assert reasons == {"@eaDir (Synology thumbnails, folder)": 1, "#recycle (NAS recycle bin, folder)": 1,
                       "#snapshot (NAS snapshots, folder)": 1, "$RECYCLE.BIN (Windows recycle bin, folder)": 1,
                       "node_modules (software packages, folder)": 1, "a Lightroom preview cache (folder)": 1,
                       "an Apple Photos library (folder)": 1, "--exclude (folder)": 1, ".troveignore (file)": 1,
                       ".Trash-1000 (trash, folder)": 1, }
    assert "`trove ingest lrprev" in r.stderr and "My Catalog Previews.lrdata" in r.stderr
    assert "`trove ingest photos" in r.stderr
    text = trove("ingest", "folder", share, "--exclude", "Screenshots/", "--no-embed").stdout
    assert "10 left out (" in text and "@eaDir (Synology thumbnails, folder) 1" in text


def test_no_default_excludes_reads_everything(trove, tmp_path):
    share = tmp_path / "share"
    nas_tree(share)
    trove("ingest", "folder", share, "--no-default-excludes", "--no-embed")
    got = names(trove)
    assert "2019/@eaDir/beach.jpg/SYNOPHOTO_THUMB_XL.jpg" in got and "#recycle/old.jpg" in got
    assert ".Trash-1000/files/x.jpg" in got and "memes/funny.png" not in got   # .troveignore still applies


def test_files_can_be_given_as_well_as_folders(trove, tmp_path):
    desk = tmp_path / "Desktop"
    a, b, c = (write_jpeg(desk / f"{n}.jpg", seed=i) for i, n in enumerate("abc"))
    write(desk / "notes.txt", b"shopping list")
    trove("ingest", "folder", a, b, "--no-embed")
    assert len(trove.json_lines("list")) == 2
    run = trove.json_lines("ingest", "folder", c, desk / "notes.txt", "--no-embed", code=1)[0]
    assert run.get("discover.missing", 0) == 0   # a and b are not gone because this run did not name them
    rows = sqlite3.connect(trove.library / "catalog.db").execute("SELECT kind FROM errors").fetchall()
    assert rows == [("not-a-photo",)]
    assert {p["locations"][0]["state"] for p in trove.json_lines("list")} == {"ok"} and len(trove.json_lines("list")) == 3


# -- 3: the library remembers its model -------------------------------------------------------------
def test_the_library_remembers_its_model(trove, tmp_path):
    for i in range(4):
        write_jpeg(tmp_path / "pics" / f"{i}.jpg", seed=i)
    trove("ingest", "folder", tmp_path / "pics", "--model", TINY)
    for i in range(4, 6):
        write_jpeg(tmp_path / "pics" / f"{i}.jpg", seed=i)
    trove("ingest", "folder", tmp_path / "pics")   # no --model: the library's own, not the default
    db = sqlite3.connect(trove.library / "catalog.db")
    assert db.execute("SELECT model, count(*) FROM embeddings GROUP BY model").fetchall() == [("test/tiny-colour-4x4", 6)]
    r = trove("ingest", "folder", tmp_path / "pics", "--model", COLOUR, code=2)
    assert "embedded with model 'test/tiny-colour-4x4'" in r.stderr and "--add-model" in r.stderr
    trove("ingest", "folder", tmp_path / "pics", "--model", COLOUR, "--add-model")
    for i in range(6, 8):
        write_jpeg(tmp_path / "pics" / f"{i}.jpg", seed=i)
    trove("ingest", "folder", tmp_path / "pics")   # the library's first model only
    assert dict(db.execute("SELECT model, count(*) FROM embeddings GROUP BY model")) == {
        "test/tiny-colour-4x4": 8, "test-colour-v1": 6}
    assert len(trove.json_lines("search", "red")) == 8   # several models: the library's own, no error
    r = trove("search", "red", "--model", COLOUR, quiet=False)
    assert "model test-colour-v1 covers 6 of 8 photos (75%)" in r.stderr


# -- 4: conventions ---------------------------------------------------------------------------------
def cli(*args, env=None, cwd=None) -> subprocess.CompletedProcess:
    from conftest import REPO

    e = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]), **(env or {})}
    return subprocess.run([sys.executable, "-m", "phototrove", *map(str, args)], env=e, capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_global_options_after_the_command_and_python_dash_m(trove, tmp_path):
    write_jpeg(tmp_path / "pics" / "a.jpg", seed=1)
    r = cli("ingest", "folder", tmp_path / "pics", "--no-embed", "--library", trove.library, "-q")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = cli("status", "--library", trove.library, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["photos"] == 1
    r = cli("list", f"--library={trove.library}", "--json")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1
    version = cli("-V")
    assert version.returncode == 0 and "version" in version.stdout
    assert cli("--help").stdout.startswith("Usage: trove")


# -- 5: the search table at 80 columns ----------------------------------------------------------------
def test_the_search_table_fits_80_columns_and_keeps_file_names_whole(trove, tmp_path):
    deep = tmp_path / "a very long folder name that goes on" / "and on, as folders on a NAS do" / "2019 summer"
    long_name = "IMG_20190714_103000_with_the_dog.jpg"
    write_jpeg(deep / long_name, seed=1, color=(250, 0, 0))
    write_jpeg(tmp_path / "short" / "b.jpg", seed=2, color=(0, 250, 0))
    trove("ingest", "folder", tmp_path / "a very long folder name that goes on", tmp_path / "short", "--model", COLOUR)
    r = cli("--library", trove.library, "-q", "search", "red", env={"COLUMNS": "80"})
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["#", "score", "taken", "where", "file"]
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[1].endswith("/" + long_name) and "…" in lines[1] and "2019 su" in lines[1]
    assert "short" in lines[2]


def test_the_where_column_names_the_takeout_folder_and_the_lightroom_folder(trove, tmp_path):
    sys.path.insert(0, str(tmp_path.parents[0]))
    import lightroom
    import takeout_fixtures as tf

    parts = tf.takeout(str(tmp_path / "dl"), [{"Photos from 2019/x.jpg": tf.jpeg(1),
                                                "Photos from 2019/x.jpg.json": tf.sidecar("x.jpg")}])
    trove("ingest", "takeout", *parts, "--model", TINY)
    lib = lightroom.make_library(str(tmp_path / "lr"))
    trove("ingest", "lrprev", lib.lrdata, "--model", TINY)
    wheres = {r["where"] for r in trove.json_lines("search", "x", "--limit", "50")}
    assert "Photos from 2019" in wheres and "Beach" in wheres
    assert not any(w.startswith(("lrprev:", "takeout:", "0000", "dl")) for w in wheres), wheres


# -- 6: the execution provider -------------------------------------------------------------------------
def test_the_execution_provider_is_said_once_and_a_missing_one_is_an_error(trove, tmp_path):
    from embed_fixtures import model_dir

    write_jpeg(tmp_path / "a" / "1.jpg", seed=1)
    write_jpeg(tmp_path / "b" / "2.jpg", seed=2)
    r = trove("ingest", "folder", tmp_path / "a", tmp_path / "b", "--model", model_dir("onnx", "clip-tiny"),
              quiet=False)
    said = [line for line in r.stderr.splitlines() if line.startswith("embedding with")]
    assert said == [f"embedding with clip-tiny on CPU (onnxruntime {__import__('onnxruntime').__version__})"]
    write_jpeg(tmp_path / "c" / "3.jpg", seed=3)
    r = trove("ingest", "folder", tmp_path / "c", "--device", "cuda", code=2)
    assert "CUDAExecutionProvider" in r.stderr and "onnxruntime-gpu" in r.stderr


# -- 7: smaller things ----------------------------------------------------------------------------------
@pytest.fixture
def colour_library(trove, tmp_path):
    for i, c in enumerate([(250, 0, 0), (0, 250, 0), (0, 0, 250)]):
        write_jpeg(tmp_path / "pics" / f"{i}.jpg", seed=i, color=c)
    trove("ingest", "folder", tmp_path / "pics", "--model", COLOUR)
    return trove


def test_search_open_without_html_opens_a_gallery(colour_library, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))
    colour_library("search", "red", "--open")
    assert opened and opened[0].endswith("/reports/last-search.html")
    page = colour_library.library / "reports" / "last-search.html"
    assert page.read_text().count("<figure") == 3


def test_json_and_paths_together_is_a_usage_error(colour_library):
    r = colour_library("search", "red", "--json", "--paths", code=2)
    assert "--json and --paths" in r.stderr


def test_every_option_has_help():
    from phototrove.cli import main

    def commands(cmd, path=("trove",)):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from commands(sub, path + (name,))

    missing = [f"{' '.join(path)} {opt.opts[0]}" for path, cmd in commands(main) for opt in cmd.params
               if isinstance(opt, click.Option) and not opt.help and opt.opts[0] not in ("--help",)]
    assert missing == []


def test_status_of_an_empty_source_and_the_summary_always_says_embedded(trove, tmp_path):
    (tmp_path / "empty").mkdir()
    out = trove("ingest", "folder", tmp_path / "empty", "--no-embed").stdout
    assert "; 0 embedded;" in out
    text = trove("status").stdout
    assert "locations: ;" not in text and "files: none" in text


# -- read-only commands end without the interpreter's teardown ------------------------------------------
QUICK_EXIT_PROBE = ("import atexit, sys\n"
                    "atexit.register(lambda: sys.stderr.write('TEARDOWN\\n'))\n"
                    "from phototrove.cli import entry\n"
                    "sys.argv = ['trove'] + sys.argv[1:]\n"
                    "entry()\n")


def test_read_only_commands_exit_quickly_with_all_their_output_and_their_exit_code(trove, tmp_path):
    """`list`, `status` and `search` end right after flushing (no teardown: the atexit hook never
    runs) with every line printed and the exit code as usual; a command that writes tears down."""
    for i in range(40):
        write_jpeg(tmp_path / "photos" / f"p{i:02d}-{'x' * 200}.jpg", seed=i)
    trove("ingest", "folder", tmp_path / "photos", "--no-embed")

    def run(*args):
        return subprocess.run([sys.executable, "-c", QUICK_EXIT_PROBE, "--library", str(trove.library), "--quiet",
                               *map(str, args)], env=trove.env(), capture_output=True, text=True, timeout=120)

    listed = run("list", "--json")
    assert listed.returncode == 0 and "TEARDOWN" not in listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == 40 and len(listed.stdout) > 16384   # more than a pipe's buffer, none of it lost
    status = run("status", "--json")
    assert status.returncode == 0 and "TEARDOWN" not in status.stderr and json.loads(status.stdout)
    bad = run("search", "red", "--json", "--paths")   # a usage error keeps its exit code
    assert bad.returncode == 2 and "--json and --paths" in bad.stderr and "TEARDOWN" not in bad.stderr
    ingest = run("ingest", "folder", tmp_path / "photos", "--no-embed")
    assert ingest.returncode == 0 and "TEARDOWN" in ingest.stderr


def test_list_builds_records_in_batches_and_keeps_every_photo_in_order(trove, tmp_path, monkeypatch):
    """`trove list` (all, and filtered newest first) gives each photo's full record once, in order,
    across batch boundaries, exactly as photo_record gives it."""
    import phototrove.search.selection as selection
    from phototrove.catalog import Catalog
    from phototrove.search.filters import Filters

    for i in range(11):
        write_jpeg(tmp_path / "photos" / f"p{i:02d}.jpg", seed=100 + i, taken=f"2019:0{1 + i % 9}:0{1 + i % 7} 10:00:00")
    trove("ingest", "folder", tmp_path / "photos", "--no-embed")
    monkeypatch.setattr(selection, "LIST_BATCH", 3)
    with Catalog(trove.library / "catalog.db", readonly=True) as cat:
        for args, filters in (((), Filters()), (("--from", "2019-03"), Filters(date_from="2019-03"))):
            rows = trove.json_lines("list", *args)
            ids = list(selection.listed_photos(cat, filters))
            assert [r["id"] for r in rows] == ids and len(ids) > 3, args
            assert rows == [json.loads(json.dumps(cat.photo_record(pid), default=str)) for pid in ids]
    assert len(trove.json_lines("list")) == 11
