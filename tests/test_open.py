"""Photos as files any viewer opens (issue 15, point 7): `materialize`, `trove open`, `--paths
--materialize` and the gallery's "open" link, on a real Takeout zip (deflated members), a real
Lightroom cache (fixtures/lightroom.py) and a plain folder, ingested by the real CLI."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import Trove
from lrfix import lightroom
from phototrove.library import Library
from phototrove.media.jpeg import scan_data
from phototrove.output.materialize import Unopenable, materialize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import takeout_fixtures as tf  # noqa: E402

Y = "Photos from 2019/"
LONG_TITLE = "Trip: Saint-Malo, the beach at low tide?.jpg"   # the member carries it clipped and made safe
TAKEOUT = {
    Y + "IMG_0001.jpg": tf.jpeg(1), Y + "IMG_0001.jpg.json": tf.sidecar("IMG_0001.jpg"),
    Y + "IMG_0002.jpg": tf.jpeg(2), Y + "IMG_0002.jpg.json": tf.sidecar("IMG_0002.jpg"),
    Y + "IMG_0002-edited.jpg": tf.jpeg(3),                       # takes IMG_0002's sidecar (and title)
    Y + "IMG_0003(1).jpg": tf.jpeg(4), Y + "IMG_0003.jpg(1).json": tf.sidecar("IMG_0003.jpg"),
    Y + "Trip_ Saint-Malo, the beach.jpg": tf.jpeg(5),
    Y + "Trip_ Saint-Malo, the beach.jpg.json": tf.sidecar(LONG_TITLE),
}
NAMES = {Y + "IMG_0001.jpg": "IMG_0001.jpg", Y + "IMG_0002.jpg": "IMG_0002.jpg",
         Y + "IMG_0002-edited.jpg": "IMG_0002-edited.jpg", Y + "IMG_0003(1).jpg": "IMG_0003.jpg",
         Y + "Trip_ Saint-Malo, the beach.jpg": "Trip_ Saint-Malo, the beach at low tide_.jpg"}
U = lightroom.uuid_of
IMG = {i.id: i for i in lightroom.IMAGES}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(root: Path, *, embed: bool = True, lightroom_too: bool = True, lr13: bool = False) -> dict:
    """A library with a Takeout export (one zip, members deflated), a Lightroom cache and a folder."""
    trove = Trove(root / "library")
    [zip_path] = tf.takeout(str(root / "export"), [TAKEOUT], media_stored=False)
    model = ["--model", "tiny_embedder:make"] if embed else ["--no-embed"]
    trove("ingest", "takeout", zip_path, *model)
    lib = None
    if lightroom_too:
        lib = lightroom.make_library(str(root / "lr"), lr13=lr13)
        trove("ingest", "lrprev", lib.lrdata, *model)
    folder = root / "folder"
    folder.mkdir()
    plain = folder / "plain.jpg"
    plain.write_bytes(tf.jpeg(9, (64, 40)))
    trove("ingest", "folder", folder, *model)
    photos = trove.json_lines("list")
    return {"trove": trove, "zip": zip_path, "lr": lib, "plain": plain, "photos": photos,
            "library": Library(trove.library)}


def photo_at(built: dict, *, entry: str | None = None, path: str | None = None) -> dict:
    for p in built["photos"]:
        for loc in p["locations"]:
            if (entry is None or loc.get("entry", "").endswith(entry)) and (path is None or loc["path"] == path):
                return p
    raise AssertionError(f"no photo at {path}!{entry}")


def lr_photo(built: dict, image_id: int) -> dict:
    img = IMG[image_id]
    return next(p for p in built["photos"] if any(
        f"{U(img.file)}-{img.digest}" in loc["path"] + "!" + loc.get("entry", "") for loc in p["locations"]))


def api(built: dict, photo_id: int) -> Path:
    with built["library"].reading() as catalog:
        return materialize(built["library"], catalog, photo_id)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return build(tmp_path_factory.mktemp("open"))


@pytest.fixture
def built(shared):
    """The shared library with an empty open/ cache."""
    shutil.rmtree(shared["library"].open_dir, ignore_errors=True)
    return shared


def fake_viewer(tmp_path: Path, body: str = 'printf "%s\\n" "$@" >> "$RECORD"') -> tuple[Path, Path]:
    """A stand-in for the desktop: an `xdg-open` that records what it was asked to open."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "xdg-open"
    exe.write_text(f"#!/bin/sh\n{body}\n")
    exe.chmod(0o755)
    return bin_dir, tmp_path / "viewer-calls.txt"


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xdg-open is the Linux viewer")


# -- materialize --------------------------------------------------------------------------------------
def test_a_zip_member_is_written_once_with_its_own_bytes_under_its_original_name(built):
    open_dir = built["library"].open_dir
    for member, name in NAMES.items():
        p = photo_at(built, entry=member)
        path = api(built, p["id"])
        assert path == open_dir / p["hash"][:16] / name
        assert path.read_bytes() == TAKEOUT[member] and sha(path.read_bytes()) == p["hash"]
        assert os.listdir(path.parent) == [name]   # no temporary file left beside it
    p = photo_at(built, entry=Y + "IMG_0001.jpg")
    first = api(built, p["id"])
    before = first.stat()
    again = api(built, p["id"])
    after = again.stat()
    assert again == first and (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == (
        before.st_ino, before.st_mtime_ns, before.st_ctime_ns)   # the cache: not written again


def test_tgz_members_out_of_order_and_names_without_extension(tmp_path):
    """A tgz is read forward only: members asked for in any order still come out whole. A member
    whose name says nothing gets its title's extension, else the one its bytes say."""
    files = {Y + "A.jpg": tf.jpeg(11), Y + "B.jpg": tf.jpeg(12), Y + "IMG_0009": tf.jpeg(13),
             Y + "IMG_0009.json": tf.sidecar("IMG_0009.jpeg"), Y + "IMG_0010": tf.jpeg(14)}
    [tgz] = tf.takeout(str(tmp_path / "export"), [files], fmt="tgz")
    trove = Trove(tmp_path / "library")
    trove("ingest", "takeout", tgz, "--no-embed")
    b = {"photos": trove.json_lines("list"), "library": Library(trove.library)}
    for member, name in ((Y + "IMG_0010", "IMG_0010.jpg"), (Y + "B.jpg", "B.jpg"), (Y + "IMG_0009", "IMG_0009.jpeg"),
                         (Y + "A.jpg", "A.jpg")):
        p = photo_at(b, entry=member)
        path = api(b, p["id"])
        assert path.name == name and path.read_bytes() == files[member]


def test_a_plain_file_is_itself(built):
    p = photo_at(built, path=str(built["plain"]))
    assert api(built, p["id"]) == built["plain"]
    assert not built["library"].open_dir.exists()


def test_a_lightroom_preview_is_the_level_with_its_orientation_named_after_the_original(built):
    lib, open_dir = built["lr"], built["library"].open_dir
    for image_id, name, orientation in ((1, "IMG_0001.jpg", 6), (3, "IMG_0001 (Black & White).jpg", 6),
                                        (5, "IMG_0005.jpg", 2)):
        p = lr_photo(built, image_id)
        path = api(built, p["id"])
        assert path == open_dir / p["hash"][:16] / name
        data = path.read_bytes()
        level = lib.levels[(U(IMG[image_id].file), IMG[image_id].digest)][-1]
        assert scan_data(data) == scan_data(level)            # Lightroom's pixels untouched
        assert sha(data) == p["hash"]
        with Image.open(io.BytesIO(data)) as im:
            assert im.getexif().get(0x0112) == orientation    # the inserted orientation
    root_pixels = lr_photo(built, 7)   # no preview file: its thumbnail in root-pixels.db
    assert root_pixels["locations"][0]["path"].endswith("root-pixels.db")
    path = api(built, root_pixels["id"])
    assert path.name == "IMG_0007.jpg" and sha(path.read_bytes()) == root_pixels["hash"]
    with Image.open(path) as im:
        im.verify()


def test_a_lightroom_13_cache_jpeg_is_written_out_too(tmp_path):
    """Its file has no extension and no orientation: not what a viewer should be given."""
    b = build(tmp_path, embed=False, lr13=True)
    p = lr_photo(b, 1)
    assert p["locations"][0].get("entry", "") == ""
    path = api(b, p["id"])
    assert path.parent.parent == b["library"].open_dir and path.name == "IMG_0001.jpg"
    data = path.read_bytes()
    assert scan_data(data) == scan_data(b["lr"].levels[(U(101), IMG[1].digest)][-1]) and sha(data) == p["hash"]
    with Image.open(path) as im:
        assert im.getexif().get(0x0112) == 6


def test_a_member_whose_bytes_changed_since_ingest_is_refused(tmp_path):
    b = build(tmp_path, embed=False, lightroom_too=False)
    p = photo_at(b, entry=Y + "IMG_0001.jpg")
    tf.write_zip(b["zip"], [(tf.PHOTOS + rel, tf.jpeg(77) if rel == Y + "IMG_0001.jpg" else c)
                            for rel, c in TAKEOUT.items()])
    with pytest.raises(Unopenable, match=f"photo {p['id']} .*other bytes than when it was ingested"):
        api(b, p["id"])
    assert list(b["library"].open_dir.rglob("*")) == [b["library"].open_dir / p["hash"][:16]]   # nothing left


# -- trove open ---------------------------------------------------------------------------------------
@linux_only
def test_trove_open_hands_the_materialized_file_to_the_viewer(built, tmp_path):
    trove = built["trove"]
    bin_dir, calls = fake_viewer(tmp_path)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "RECORD": str(calls)}
    p = photo_at(built, entry=Y + "IMG_0002.jpg")
    expect = built["library"].open_dir / p["hash"][:16] / "IMG_0002.jpg"
    member = f"{built['zip']}!{tf.PHOTOS}{Y}IMG_0002.jpg"
    for ref in (str(p["id"]), p["hash"][:10], member):      # id, hash prefix, or where it was seen
        r = trove.run("open", ref, env=env)
        assert (r.returncode, r.stdout, r.stderr) == (0, f"{expect}\n", "")
    assert calls.read_text().splitlines() == [str(expect)] * 3
    plain = photo_at(built, path=str(built["plain"]))
    r = trove.run("open", str(plain["id"]), env=env)
    assert r.returncode == 0 and calls.read_text().splitlines()[-1] == str(built["plain"])


@linux_only
def test_trove_open_print_opens_nothing(built, tmp_path):
    bin_dir, calls = fake_viewer(tmp_path)
    p = lr_photo(built, 1)
    r = built["trove"].run("open", str(p["id"]), "--print",
                           env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "RECORD": str(calls)})
    path = Path(r.stdout.strip())
    assert r.returncode == 0 and path.is_file() and path.name == "IMG_0001.jpg" and not calls.exists()


@linux_only
def test_a_missing_or_failing_viewer_is_one_line_and_the_path_is_still_printed(built, tmp_path):
    p = photo_at(built, entry=Y + "IMG_0001.jpg")
    empty = tmp_path / "nothing"
    empty.mkdir()
    r = built["trove"].run("open", str(p["id"]), env={"PATH": str(empty)})
    path = built["library"].open_dir / p["hash"][:16] / "IMG_0001.jpg"
    assert (r.returncode, r.stdout) == (2, f"{path}\n") and path.is_file()
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("trove: no `xdg-open` program")
    bin_dir, _calls = fake_viewer(tmp_path, "exit 3")   # xdg-open's "no application for this"
    r = built["trove"].run("open", str(p["id"]), env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert (r.returncode, r.stdout) == (2, f"{path}\n")
    assert len(r.stderr.splitlines()) == 1 and "`xdg-open` could not open" in r.stderr and "exited with 3" in r.stderr


def test_a_photo_whose_source_vanished_is_one_line_and_exit_1(tmp_path):
    b = build(tmp_path, embed=False, lightroom_too=False)
    trove = b["trove"]
    p = photo_at(b, entry=Y + "IMG_0001.jpg")
    os.rename(b["zip"], b["zip"] + ".moved")
    r = trove("open", str(p["id"]), "--print", code=1)
    assert r.stdout == "" and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith(f"trove: photo {p['id']} (") and b["zip"] in r.stderr
    os.unlink(b["plain"])
    plain = photo_at(b, path=str(b["plain"]))
    r = trove("open", str(plain["id"]), "--print", code=1)
    assert len(r.stderr.splitlines()) == 1 and str(b["plain"]) in r.stderr
    r = trove("open", "nosuchphoto", "--print", code=2)   # an unknown photo stays a usage error
    assert r.stderr.startswith("trove: photo 'nosuchphoto'")


def test_a_library_where_open_cannot_be_made_is_exit_3(tmp_path):
    b = build(tmp_path, embed=False, lightroom_too=False)
    b["library"].open_dir.write_text("not a folder")
    p = photo_at(b, entry=Y + "IMG_0001.jpg")
    r = b["trove"]("open", str(p["id"]), "--print", code=3)
    assert len(r.stderr.splitlines()) == 1 and f"cannot write into {b['library'].open_dir}" in r.stderr
    plain = photo_at(b, path=str(b["plain"]))
    assert b["trove"]("open", str(plain["id"]), "--print").stdout == f"{b['plain']}\n"   # needs no copy


# -- search/similar --paths ---------------------------------------------------------------------------
def test_paths_without_materialize_say_which_cannot_be_opened(built):
    r = built["trove"]("search", "dog", "--paths", "--limit", "100", quiet=False)
    lines = r.stdout.splitlines()
    inside = [line for line in lines if line != str(built["plain"])]
    assert str(built["plain"]) in lines and inside and any("!" in line for line in inside)
    assert f"note: {len(inside)} results are inside archives or caches: add --materialize to get openable files" \
        in r.stderr
    assert not built["library"].open_dir.exists()


def test_paths_with_materialize_are_real_files_a_viewer_opens(built, tmp_path):
    trove = built["trove"]
    r = trove("search", "dog", "--paths", "--materialize", "--limit", "100")
    lines = r.stdout.splitlines()
    assert len(lines) == len(trove.json_lines("search", "dog", "--limit", "100")) > 10
    assert str(built["plain"]) in lines
    for line in lines:
        st = os.lstat(line)
        assert stat.S_ISREG(st.st_mode) and st.st_size > 0
        with Image.open(line) as im:
            im.load()
    # through a real pipe into a program that opens each file, as `... | xargs -d '\n' feh` does
    check = tmp_path / "check.py"
    check.write_text("import sys\nfrom PIL import Image\nfor p in sys.argv[1:]:\n"
                     "    Image.open(p).load()\nprint(len(sys.argv) - 1)\n")
    cmd = (f"{sys.executable} -m phototrove.cli --library '{trove.library}' -q similar "
           f"{photo_at(built, entry=Y + 'IMG_0001.jpg')['id']} --paths --materialize --limit 100 "
           f"| xargs -d '\\n' {sys.executable} {check}")
    out = subprocess.run(cmd, shell=True, env=trove.env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and int(out.stdout) > 10, out.stderr


def test_paths_materialize_goes_on_past_a_vanished_source(tmp_path):
    b = build(tmp_path, lightroom_too=False)
    os.rename(b["zip"], b["zip"] + ".moved")
    rows = b["trove"].json_lines("search", "dog", "--limit", "100")
    r = b["trove"]("search", "dog", "--paths", "--materialize", "--limit", "100", code=1, quiet=False)
    assert r.stdout.splitlines() == [str(b["plain"])]
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(rows) - 1 >= 4 and all(b["zip"] in e for e in errors)


def test_json_with_materialize_carries_the_file(built):
    rows = built["trove"].json_lines("search", "dog", "--materialize", "--limit", "100")
    assert rows and all(Path(r["open_file"]).is_file() for r in rows)


# -- the gallery --------------------------------------------------------------------------------------
def gallery_data(page: Path) -> dict:
    return json.loads(page.read_text(encoding="utf-8").split('id="trove-data">', 1)[1].split("</script>", 1)[0])


def test_gallery_links_a_zip_member_to_its_materialized_copy(built, tmp_path):
    trove = built["trove"]
    member = photo_at(built, entry=Y + "IMG_0001.jpg")
    plain = photo_at(built, path=str(built["plain"]))
    page = tmp_path / "before.html"
    trove("search", "dog", "--html", page, "--limit", "100")
    before = gallery_data(page)["photos"]
    assert before[str(member["id"])]["open"] is None      # nothing openable yet: no dead link
    assert before[str(plain["id"])]["open"] == built["plain"].as_uri()
    page = tmp_path / "after.html"
    trove("search", "dog", "--html", page, "--materialize", "--limit", "100")
    after = gallery_data(page)["photos"]
    copy = built["library"].open_dir / member["hash"][:16] / "IMG_0001.jpg"
    assert after[str(member["id"])]["open"] == copy.resolve().as_uri() and after[str(member["id"])]["open_copy"]
    assert after[str(plain["id"])]["open"] == built["plain"].as_uri() and not after[str(plain["id"])]["open_copy"]
    assert copy.is_file()
    hits = {pid: p for pid, p in after.items() if p["score"] is not None}   # the results, not their neighbours
    assert len(hits) > 10
    for pid, p in hits.items():   # every result opens: previews and members through their copies
        assert p["open"] == api(built, int(pid)).resolve().as_uri()
        assert p["open_copy"] == (int(pid) != plain["id"])
