"""pairing.PreviewReads: the previews' headers read by two processes (a forked child from the end,
this one from the front) give exactly what one reader gives, in the same order, on a cache full of
damaged, truncated and odd previews; and a child that fails changes nothing but the time taken."""
import os
import time

import pytest

from lrfix import lightroom
from phototrove.ingest.lightroom import pairing
from phototrove.ingest.lightroom.previews import PreviewError, scan_previews

SIDES = (16, 32, 64)


def odd_cache(dest: str) -> lightroom.Library:
    """The test catalog and its previews, plus 70 more previews of every odd kind (no catalog
    image of theirs), some of them Lightroom 13.3+ files."""
    lib = lightroom.make_library(dest, sides=SIDES)
    sizes = lightroom.level_sizes(1.5, SIDES)
    jpegs = [lightroom.make_jpeg(w, h, 7) for w, h in sizes]
    odd_dir = os.path.join(lib.lrdata, "odd")

    def put(i: int, data: bytes, name: str | None = None, uuid: str = "", digest: str = "") -> None:
        path = os.path.join(odd_dir, name) if name else lightroom.preview_path(lib.lrdata, uuid, digest)
        lightroom.write(path, data, lightroom.NOW - 60 * i)

    for i in range(70):
        uuid = lightroom.uuid_of(0x5000 + i // 2)        # two by two: a newer and an outdated preview
        digest = lightroom.digest_of(0x6000 + i)
        whole = lightroom.lrprev_bytes(uuid, digest, jpegs, sizes)
        kind = i % 14
        if kind == 0:
            put(i, whole, uuid=uuid, digest=digest)
        elif kind == 1:
            put(i, b"", uuid=uuid, digest=digest)                                  # empty
        elif kind == 2:
            put(i, whole[:-50], uuid=uuid, digest=digest)                          # cut inside the largest level
        elif kind == 3:
            text = lightroom.header_text(uuid, digest, sizes)                     # cut between two sections
            put(i, lightroom.lrprev_bytes(uuid, digest, jpegs[:2], sizes, text), uuid=uuid, digest=digest)
        elif kind == 4:
            other = lightroom.header_text(lightroom.uuid_of(0x7000 + i), digest, sizes)   # the header names another
            put(i, lightroom.lrprev_bytes(uuid, digest, jpegs, sizes, other), uuid=uuid, digest=digest)
        elif kind == 5:
            put(i, whole, name=f"renamed {i}.lrprev")                              # UUID from the header only
        elif kind == 6:
            put(i, lightroom.lrprev_bytes(uuid, digest, jpegs, sizes, "pyramid = { a = 1 b }"),
                name=f"bad header {i}.lrprev")                                    # ... which is not understood
        elif kind == 7:
            put(i, b"GIF89a" + b"\x00" * 100, uuid=uuid, digest=digest)            # not a preview
        elif kind == 8:
            put(i, lightroom.section("level_1", jpegs[0], 1), uuid=uuid, digest=digest)   # AgHg, no header
        elif kind == 9:
            put(i, whole + b"junk after the last section", uuid=uuid, digest=digest)
        elif kind == 10:
            bad = bytearray(whole)
            second = bytes(whole).index(b"AgHg", 4)
            bad[second + 4:second + 6] = (9000).to_bytes(2, "big")                 # a bad section header length
            put(i, bytes(bad), uuid=uuid, digest=digest)
        elif kind == 11:
            put(i, whole[:40], uuid=uuid, digest=digest)                           # cut inside the header section
        elif kind == 12:
            lightroom.add_preview(lib, uuid, digest, 1.5, i, lightroom.NOW - 60 * i, lr13=True, sides=SIDES)
        else:
            lightroom.add_preview(lib, uuid, digest, 0.75, i, lightroom.NOW - 60 * i, lr13=True, sides=SIDES)
            os.truncate(lightroom.preview_path(lib.lrdata, uuid, digest, f"_{SIDES[-1]}"), 300)
    return lib


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return odd_cache(str(tmp_path_factory.mktemp("odd")))


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 4 after a probe of 3 files, never judged a slow disk, and reads slow enough
    (3 ms a file) that both processes get their share."""
    monkeypatch.setattr(pairing, "PROBE", 3)
    monkeypatch.setattr(pairing, "CHUNK", 4)
    monkeypatch.setattr(pairing, "SLOW_READ_S", 10.0)
    read = pairing._read

    def slow(path):
        time.sleep(0.003)
        return read(path)

    monkeypatch.setattr(pairing, "_read", slow)
    return read


def comparable(results):
    """Results as values (an exception compares by identity)."""
    return [(path, ("error", type(p), p.kind, str(p)) if isinstance(p, PreviewError) else p) for path, p in results]


def plan_values(plan):
    items = [(it.uuid, it.digest, it.preview, it.level, it.image, it.cache, it.current, it.source_path, it.smart,
              it.path, it.key, it.identity, it.meta()) for it in plan.items]
    return items, plan.errors, plan.warnings, plan.notes, plan.counts, plan.catalog_path


def test_two_processes_read_what_one_reads(cache, small_chunks):
    files, _ = scan_previews(cache.lrdata)
    assert len(files) > 60
    want = [small_chunks(p) for p in files]
    kinds = {p.kind for _, p in want if isinstance(p, PreviewError)}
    assert {"empty", "not-a-preview", "truncated"} <= kinds
    assert any(p.warnings for _, p in want if not isinstance(p, PreviewError))
    assert any(p.layout == "lr13" for _, p in want if not isinstance(p, PreviewError))
    reads = pairing.PreviewReads(files, parallel=True)
    try:
        got = reads.results()
    finally:
        reads.close()
    assert comparable(got) == comparable(want)
    shared = len(files) - pairing.PROBE
    assert min(reads.delivered, shared - reads.delivered) >= shared // 4   # each process read a good share


def test_the_plan_is_the_same_with_the_reads_shared(cache, small_chunks):
    serial = pairing.load_plan(cache.lrdata, parallel=False)
    shared = pairing.load_plan(cache.lrdata, parallel=True)
    assert plan_values(shared) == plan_values(serial)
    assert serial.errors and serial.warnings and serial.counts.get("truncated_fallback") and serial.catalog


def test_a_failing_child_changes_nothing(cache, small_chunks, monkeypatch):
    files, _ = scan_previews(cache.lrdata)
    want = [small_chunks(p) for p in files]

    def broken(result):
        raise RuntimeError("the child cannot send")

    monkeypatch.setattr(pairing, "_pack", broken)   # the child exits with 1 at its first preview
    reads = pairing.PreviewReads(files, parallel=True)
    got = reads.results()
    assert comparable(got) == comparable(want) and reads.delivered == 0


def test_the_child_is_reaped_when_loading_fails(cache, small_chunks, monkeypatch):
    def fail(*a, **k):
        raise RuntimeError("catalog trouble")

    monkeypatch.setattr(pairing, "load_catalog", fail)
    with pytest.raises(RuntimeError):
        pairing.load_plan(cache.lrdata, cache.catalog, parallel=True)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)   # no child left behind, not even a zombie
