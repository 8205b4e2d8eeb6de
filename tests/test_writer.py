"""output/writer.py: a file being written never has a real name, and (Linux) no name at all: it is
written anonymously (O_TMPFILE) and linked into place when complete; where that cannot be done
(no O_TMPFILE, no /proc) it is written under a temporary name in `.trove-partial/`. Both ways give
the same files, and the same answers when a name is taken."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from phototrove.output.writer import PARTIAL_DIR, Body, Writer, anonymous_files_possible

WAYS = [pytest.param(True, id="anonymous"), pytest.param(False, id="named")]
PAYLOAD = bytes(range(256)) * 4096   # 1 MiB, read in several chunks


def all_files(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


class Watching:
    """A stream of PAYLOAD that records, at every read, the files that exist under `root`: what a
    kill at that moment would leave behind."""

    def __init__(self, root):
        self.root, self.pos, self.seen = root, 0, set()

    def read(self, n: int) -> bytes:
        self.seen.update(all_files(self.root))
        chunk = PAYLOAD[self.pos:self.pos + min(n, 300_000)]
        self.pos += len(chunk)
        return chunk


def need(anonymous: bool) -> None:
    if anonymous and not anonymous_files_possible():
        pytest.skip("this system cannot write a file without a name (O_TMPFILE, /proc)")


@pytest.mark.parametrize("anonymous", WAYS)
def test_a_file_being_written_has_no_real_name(tmp_path, anonymous):
    need(anonymous)
    out = tmp_path / "out"
    writer = Writer(str(out), anonymous=anonymous)
    stream = Watching(out)
    rel = writer.write("2019/Beach/IMG_1.jpg", b"HEAD", Body(stream=stream), 1_500_000_000.0)
    writer.close()
    assert rel == "2019/Beach/IMG_1.jpg"
    path = out / rel
    assert path.read_bytes() == b"HEAD" + PAYLOAD
    st = path.stat()
    mask = os.umask(0)
    os.umask(mask)
    assert st.st_mtime == 1_500_000_000.0 and st.st_mode & 0o777 == 0o666 & ~mask and st.st_nlink == 1
    assert not any(f == rel for f in stream.seen)     # never under its real name before it was whole
    partial = [f for f in stream.seen if f.startswith(PARTIAL_DIR + os.sep)]
    if anonymous:
        assert stream.seen == set()                   # no name at all: a kill leaves nothing behind
    else:
        assert len(partial) == 1 and partial[0].endswith(".part")
    assert all_files(out) == [rel]                    # the partial-file folder is gone


@pytest.mark.parametrize("anonymous", WAYS)
def test_taken_names_same_bytes_cut_short_and_replace(tmp_path, anonymous):
    need(anonymous)
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "a" / "theirs.jpg").write_bytes(b"someone else's photo")
    (out / "a" / "same.jpg").write_bytes(b"HEAD" + PAYLOAD)
    (out / "a" / "short.jpg").write_bytes(b"HEAD" + PAYLOAD[:1000])         # an older trove, killed mid-write
    (out / "a" / "side.jpg.xmp").write_bytes(b"<not ours/>")                # a companion's name taken
    writer = Writer(str(out), anonymous=anonymous)
    body = lambda: Body(data=PAYLOAD)  # noqa: E731
    assert writer.write("a/theirs.jpg", b"HEAD", body(), None) == "a/theirs-2.jpg"
    assert writer.write("a/same.jpg", b"HEAD", body(), None) == "a/same.jpg"
    assert writer.write("a/short.jpg", b"HEAD", body(), None) == "a/short.jpg"
    assert writer.write("a/side.jpg", b"HEAD", body(), None, companions={".xmp": b"<x/>"}) == "a/side-2.jpg"
    assert writer.write("a/new.jpg", b"OLD", body(), None) == "a/new.jpg"
    assert writer.write("a/new.jpg", b"NEW", body(), 1e9, replace=True) == "a/new.jpg"   # an upgrade
    writer.close()
    a = out / "a"
    assert (a / "theirs.jpg").read_bytes() == b"someone else's photo"
    for name in ("theirs-2.jpg", "same.jpg", "short.jpg", "side-2.jpg"):
        assert (a / name).read_bytes() == b"HEAD" + PAYLOAD, name
    assert (a / "side.jpg.xmp").read_bytes() == b"<not ours/>" and (a / "side-2.jpg.xmp").read_bytes() == b"<x/>"
    assert not (a / "side.jpg").exists()   # placed, then taken back when its sidecar's name was taken
    assert (a / "new.jpg").read_bytes() == b"NEW" + PAYLOAD and (a / "new.jpg").stat().st_mtime == 1e9
    assert not (out / PARTIAL_DIR).exists()


@pytest.mark.parametrize("anonymous", WAYS)
def test_a_folder_swapped_for_a_symlink_is_not_followed(tmp_path, anonymous):
    need(anonymous)
    out, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    writer = Writer(str(out), anonymous=anonymous)
    assert writer.write("a/1.jpg", b"1", Body(), None) == "a/1.jpg"
    (out / "a").rename(out / "a-moved")
    (out / "a").symlink_to(outside, target_is_directory=True)   # swapped in while the run goes on
    writer.write("a/2.jpg", b"2", Body(), None)
    writer.close()
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in (out / "a-moved").iterdir()) == ["1.jpg", "2.jpg"]
    fresh = Writer(str(out), anonymous=anonymous)   # a new run checks the folder again: refused
    with pytest.raises(OSError, match="outside"):
        fresh.write("a/3.jpg", b"3", Body(), None)
    fresh.close()
    assert list(outside.iterdir()) == []


def test_many_folders_do_not_hold_a_descriptor_each(tmp_path):
    from phototrove.output.writer import HELD_FOLDERS

    out = tmp_path / "out"
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    writer = Writer(str(out))
    for i in range(HELD_FOLDERS + 40):
        writer.write(f"day {i}/x.jpg", b"x", Body(), None)
    assert len(all_files(out)) == HELD_FOLDERS + 40
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) <= before + HELD_FOLDERS + 1
    writer.close()
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) == before


HIDDEN_PROC = textwrap.dedent("""
    import os, subprocess, sys
    from phototrove.output.writer import Body, Writer, anonymous_files_possible
    out, when = sys.argv[1], sys.argv[2]
    if when == "before":   # no /proc from the start: detected, files are written under a temporary name
        subprocess.run(["mount", "-t", "tmpfs", "none", "/proc"], check=True)
        assert not anonymous_files_possible()
        writer = Writer(out)
        assert not writer.anonymous
    else:                  # /proc gone after the writer chose anonymous files: each is copied to a name
        writer = Writer(out)
        assert writer.anonymous
        subprocess.run(["mount", "-t", "tmpfs", "none", "/proc"], check=True)
    seen = []

    class Stream:
        def __init__(self):
            self.left = 3

        def read(self, n):
            seen.extend(os.listdir(os.path.join(out, ".trove-partial")))
            self.left -= 1
            return b"data" * 1000 if self.left >= 0 else b""

    print(writer.write("a/x.jpg", b"HEAD", Body(stream=Stream()), 1e9))
    print(writer.write("a/x.jpg", b"NEW", Body(data=b"data"), 2e9, replace=True))
    writer.close()
    print(len(seen), all(s.endswith(".part") for s in seen))
""")


@pytest.mark.parametrize("when", ["before", "after"])
def test_without_proc_the_writer_falls_back_to_named_temporary_files(tmp_path, when):
    """Linux with /proc hidden (a mount namespace with a tmpfs over it): the anonymous route is
    impossible, so files are written under a temporary name (or, when /proc disappears after the
    writer chose the anonymous route, each finished file is copied to one), with the same result."""
    if not sys.platform.startswith("linux") or not shutil.which("unshare") or os.geteuid() != 0:
        pytest.skip("needs Linux, unshare and root to hide /proc in a mount namespace")
    out = tmp_path / "out"
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", HIDDEN_PROC,
                        str(out), when], capture_output=True, text=True, timeout=60)
    if r.returncode and "unshare failed" in r.stderr:
        pytest.skip(f"cannot make a mount namespace here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    first, second, seen = r.stdout.split("\n")[:3]
    assert first == second == "a/x.jpg"
    assert (out / "a" / "x.jpg").read_bytes() == b"NEWdata" and (out / "a" / "x.jpg").stat().st_mtime == 2e9
    count, parts = seen.split()
    assert parts == "True" and (int(count) > 0) == (when == "before")
    assert all_files(out) == ["a/x.jpg"]


@pytest.mark.parametrize("anonymous", WAYS)
def test_a_placed_file_taken_back_can_be_placed_again(tmp_path, anonymous):
    """What a companion whose name is taken between the check and the link needs: the main file,
    just placed, is taken back (its name freed) and placed under the next name."""
    need(anonymous)
    out = tmp_path / "out"
    writer = Writer(str(out), anonymous=anonymous)
    spot = writer._spot("a/x.jpg")
    tmp = writer._temp(spot, b"HEAD", Body(data=PAYLOAD), 1e9)
    inode = tmp.stat().st_ino
    assert writer._put(tmp, spot, "x.jpg") == "new"
    writer._take_back(tmp, spot, "x.jpg")
    assert not (out / "a" / "x.jpg").exists()
    assert writer._put(tmp, spot, "x-2.jpg") == "new"
    tmp.discard()
    spot.close()
    writer.close()
    assert all_files(out) == ["a/x-2.jpg"] and (out / "a" / "x-2.jpg").read_bytes() == b"HEAD" + PAYLOAD
    st = (out / "a" / "x-2.jpg").stat()
    assert st.st_nlink == 1 and st.st_mtime == 1e9 and st.st_ino == inode   # the same file, not a copy
