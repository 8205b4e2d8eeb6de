"""Kill `trove ingest` with SIGKILL at several points; the resumed result equals an uninterrupted run."""
import json
import os
import signal
import sqlite3
import time

from photos import write, write_jpeg

N = 120
ARGS = ("--model", "tiny_embedder:make", "--batch-size", "2", "--workers", "1", "--json")

# (name, condition on the catalog's committed counts)
KILL_POINTS = [
    ("sources row written", lambda c: c["sources"] >= 1),
    ("read 10", lambda c: c["photos"] >= 10),
    ("read 70", lambda c: c["photos"] >= 70),
    ("embedded 6", lambda c: c["embeddings"] >= 6),
    ("embedded 50", lambda c: c["embeddings"] >= 50),
    ("embedded 100", lambda c: c["embeddings"] >= 100),
]


def counts(db_path) -> dict | None:
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=0.2)
        try:
            q = lambda t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: E731
            return {"sources": q("sources"), "photos": q("photos"), "embeddings": q("embeddings")}
        finally:
            db.close()
    except sqlite3.Error:
        return None  # not created or mid-migration yet


def dump(db_path) -> dict:
    db = sqlite3.connect(db_path)
    return {
        "photos": sorted(db.execute("SELECT hash, size, format, width, height, taken_at, camera, orientation "
                                    "FROM photos").fetchall()),
        "locations": sorted(db.execute("SELECT l.path, l.entry, l.state, p.hash FROM locations l "
                                       "LEFT JOIN photos p ON p.id=l.photo_id").fetchall()),
        "embeddings": sorted(db.execute("SELECT p.hash, e.model, e.vector FROM embeddings e "
                                        "JOIN photos p ON p.id=e.photo_id").fetchall()),
        "errors": sorted(db.execute("SELECT path, stage, kind FROM errors").fetchall()),
        "meta": sorted(db.execute("SELECT p.hash, m.origin, m.key, m.value FROM photo_meta m "
                                  "JOIN photos p ON p.id=m.photo_id").fetchall()),
        "sources": db.execute("SELECT count(*) FROM sources").fetchone()[0],
    }


def test_sigkill_at_many_points_then_resume_equals_uninterrupted(trove, tmp_path):
    from conftest import Trove

    src = tmp_path / "pics"
    for i in range(N):
        write_jpeg(src / f"d{i % 7}" / f"{i:03}.jpg", w=96, h=72, seed=i,
                   taken=f"2020:01:{1 + i % 28:02} 10:00:00", model=f"Cam{i % 3}")
    write(src / "broken.jpg", b"not a jpeg")
    env = {"TINY_EMBEDDER_DELAY": "0.02"}

    reference = Trove(tmp_path / "reference")
    r = reference.run("ingest", "folder", str(src), *ARGS, env=env)
    assert r.returncode == 1, r.stderr  # 1: the broken file

    db_path = trove.library / "catalog.db"
    killed_at = []
    for name, reached in KILL_POINTS:
        p = trove.popen("ingest", "folder", str(src), *ARGS, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            c = counts(db_path)
            if c and reached(c):
                break
            time.sleep(0.002)
        assert p.poll() is None, f"run finished before the kill point {name!r}: {p.communicate()}"
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        killed_at.append((name, counts(db_path)))
    last = killed_at[-1][1]
    assert last["embeddings"] < N, killed_at

    final = trove.run("ingest", "folder", str(src), *ARGS, env=env)
    assert final.returncode == 1, final.stderr
    summary = json.loads(final.stdout.splitlines()[0])
    # nothing committed before the last kill was done again
    assert summary.get("read.photos", 0) == N - last["photos"]
    assert summary.get("embed.photos", 0) == N - last["embeddings"]

    distinct = {(c["photos"], c["embeddings"]) for _, c in killed_at}
    assert len(distinct) >= 5, killed_at  # really killed at different points
    assert any(0 < c["photos"] < N for _, c in killed_at), killed_at          # mid read stage
    assert any(0 < c["embeddings"] < N for _, c in killed_at), killed_at      # mid embed stage

    got, want = dump(db_path), dump(reference.library / "catalog.db")
    assert got == want
    assert len(want["photos"]) == N and len(want["embeddings"]) == N and len(want["errors"]) == 1
