"""Progress bars, and the one way to print a line while a bar may be live.

Bars go to stderr, only when it is a terminal. Any message printed during a run goes through
`say()`, which writes above a live bar (tqdm.write) instead of through it, so bars are never split.
"""
from __future__ import annotations

import sys


class _NoBar:
    """What a disabled bar does: nothing (and tqdm, ~50 ms to import, is not loaded for it)."""

    def __init__(self, iterable=None):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable if self.iterable is not None else ())

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None

    def close(self) -> None:
        return None


def progress(iterable=None, *, total=None, desc="", unit="it", enabled=True):
    """A tqdm bar on stderr (rate and ETA) when enabled and stderr is a terminal; a no-op otherwise."""
    if not (enabled and sys.stderr.isatty()):
        return _NoBar(iterable)
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=not (enabled and sys.stderr.isatty()), leave=False)


def say(message: str) -> None:
    """One line on stderr, above any live progress bar."""
    if "tqdm" in sys.modules:
        from tqdm import tqdm

        tqdm.write(message, file=sys.stderr)
    else:
        print(message, file=sys.stderr, flush=True)
