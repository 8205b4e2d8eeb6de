"""ingest/lightroom/pairing.read_all: preview headers are read by one thread from the page cache,
and by several when the first files show a slow disk; the answers come back in order either way."""
from __future__ import annotations

import threading
import time

from phototrove.ingest.lightroom.pairing import PROBE, SLOW_READ_S, read_all


def reader(delay: float):
    threads = set()

    def read(path: str):
        threads.add(threading.get_ident())
        if delay:
            time.sleep(delay)   # a disk that has to seek
        return path, len(path)

    return read, threads


def test_fast_reads_stay_on_one_thread_slow_ones_spread_and_order_is_kept():
    paths = [f"/cache/{i:04d}.lrprev" for i in range(PROBE * 3)]
    fast, fast_threads = reader(0)
    assert read_all(fast, paths) == [(p, len(p)) for p in paths]
    assert fast_threads == {threading.get_ident()}
    slow, slow_threads = reader(SLOW_READ_S * 3)
    assert read_all(slow, paths) == [(p, len(p)) for p in paths]
    assert len(slow_threads) > 1
