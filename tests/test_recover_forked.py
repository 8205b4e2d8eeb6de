"""`recover` with forked writer processes (recover._forked_slices): the same files, bytes, times,
manifest, counts and messages as with threads, on a cache with a damaged level and a preview with
no whole level; a worker's exception, a killed worker and a full disk end the run (never a wait)
and leave no process behind. Slices of one photo make the test library's 8 photos enough."""
import errno
import os

import pytest

from conftest import deadline
from lrfix import lightroom
from phototrove.errors import DiskFull
from phototrove.ingest.lightroom.pairing import load_plan
from phototrove.output import recover as rec

U = lightroom.uuid_of
IMG = {i.id: i for i in lightroom.IMAGES}


def no_eoi(path: str, jpegs: list[bytes]) -> None:
    """Each of these levels made incomplete in place (its EOI marker zeroed, its length kept)."""
    data = bytearray(open(path, "rb").read())
    for jpeg in jpegs:
        end = bytes(data).index(jpeg) + len(jpeg)
        data[end - 2:end] = b"\x00\x00"
    open(path, "wb").write(bytes(data))


@pytest.fixture
def lib(tmp_path):
    lib = lightroom.make_library(str(tmp_path / "lr"))
    levels = lib.levels[(U(102), IMG[2].digest)]
    no_eoi(lib.preview(U(102), IMG[2].digest), levels[-1:])     # written from its next level, with a note
    levels = lib.levels[(U(104), IMG[4].digest)]
    no_eoi(lib.preview(U(104), IMG[4].digest), levels)          # no whole level: a failure when writing
    return lib


@pytest.fixture(autouse=True)
def no_hang():
    """A run that waits for ever fails instead (the alarm is this process's: workers have none)."""
    with deadline(60, "recover"):
        yield


@pytest.fixture
def forked(monkeypatch):
    monkeypatch.setattr(rec, "SLICE", 1)
    monkeypatch.setattr(rec.os, "cpu_count", lambda: 2)


def tree(out) -> dict:
    got = {}
    for d, _dirs, files in os.walk(out):
        for f in files:
            p = os.path.join(d, f)
            st = os.stat(p)
            rel = os.path.relpath(p, out)   # (no capture time outside the catalog: written now)
            got[rel] = (open(p, "rb").read(), st.st_mode,
                        None if f == rec.MANIFEST or rel.startswith(rec.NO_CATALOG_DIR) else st.st_mtime_ns)
    return got


def run(lib, out, workers):
    said = []
    summary, result = rec.recover_lrprev(lib.lrdata, str(out), workers=workers, show_progress=False, log=said.append)
    summary.pop("out")
    return summary, result.failures, result.counts, said, tree(out)


def no_children_left():
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@pytest.mark.parametrize("ahead", [1, 4])
def test_forked_writers_write_what_threads_write(lib, tmp_path, forked, monkeypatch, ahead):
    monkeypatch.setattr(rec, "AHEAD", ahead)
    pids = tmp_path / "pids"
    slices = rec._run_slice

    def spy(start):
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\n")
        return slices(start)

    threads = run(lib, tmp_path / "threads", workers=1)
    monkeypatch.setattr(rec, "_run_slice", spy)
    procs = run(lib, tmp_path / "procs", workers=2)
    assert procs == threads
    summary, failures, counts, said, _files = procs
    assert counts["written"] == 7 and counts["fell_back"] == 1 and len(failures) == 1
    assert any("wrote level_3 instead" in line for line in said)
    ran = pids.read_text().split()
    assert len(ran) == 8 and str(os.getpid()) not in ran   # one slice a photo, each in a worker
    no_children_left()


def plan_and_out(lib, tmp_path):
    return load_plan(lib.lrdata), str(tmp_path / "out")


class Odd(Exception):
    def __init__(self, a, b):   # (pickled as Odd(message): not made again from that)
        super().__init__(f"{a} {b}")


@pytest.mark.parametrize("error, raised", [(ValueError("a bug in the writer"), ValueError),
                                           (Odd("a bug", "in the writer"), RuntimeError)])
def test_an_exception_in_a_worker_is_raised_here(lib, tmp_path, forked, monkeypatch, error, raised):
    write = rec.recover_one

    def buggy(job, writer):
        if job.item.uuid == U(105):
            raise error
        return write(job, writer)

    monkeypatch.setattr(rec, "recover_one", buggy)
    with pytest.raises(raised, match="a bug in the writer"):
        rec.recover(*plan_and_out(lib, tmp_path), workers=2, show_progress=False)
    no_children_left()


def test_a_killed_worker_ends_the_run_instead_of_a_wait(lib, tmp_path, forked, monkeypatch):
    slices = rec._run_slice

    def killed(start):
        if start == 3:
            os._exit(9)   # as SIGKILL or the OOM killer would, between two files
        return slices(start)

    monkeypatch.setattr(rec, "_run_slice", killed)
    with pytest.raises(OSError, match="ended before it had written its photos"):
        rec.recover(*plan_and_out(lib, tmp_path), workers=2, show_progress=False)
    no_children_left()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_disk_stops_the_workers(lib, tmp_path, forked, monkeypatch, workers):
    write = rec.recover_one

    def full(job, writer):
        if job.item.uuid == U(105):
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(job, writer)

    monkeypatch.setattr(rec, "recover_one", full)
    with pytest.raises(DiskFull):
        rec.recover(*plan_and_out(lib, tmp_path), workers=workers, show_progress=False)
    no_children_left()
