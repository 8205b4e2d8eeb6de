"""Model files trove derives from a model on the user's machine and keeps in the library
(`<library>/models/<model>/`): the int8 image tower of `--precision int8`, ONNX Runtime's
optimized graph of the text tower, which a cold `trove search` loads several times faster than the
export itself, and a CLIP tokenizer's compact form (clip_tokenizer.py).

Each entry is a folder `<name>-<key>/` holding its main file (`model.onnx`, + `model.data`, its
weights; the tokenizer's `tokenizer.bpe`) and `meta.json` (the size of every file in it). The key
hashes what the entry was made from — the source model's real path, size and modification time, the
onnxruntime version and the options — so a changed model, onnxruntime or option makes a new entry
and the old one is deleted. An entry is built in a hidden temporary folder beside it and renamed
into place when complete, so a run killed at any moment leaves no entry that could be taken for a
whole one; an entry whose files do not have the sizes its meta.json records (a truncated copy, a
damaged disk) is ignored and made again. A library that cannot be written (read-only mount, DVD
copy) uses the entries it has and makes none.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

MODEL, META = "model.onnx", "meta.json"
STALE_TMP_S = 3600   # a temporary folder this old belongs to a run that was killed


def model_folder(root: str | os.PathLike, model_id: str) -> Path:
    """`<root>/<model id as a folder name>`: the id itself when it is a safe name, else a slug of it
    with a short hash (so two ids never share a folder)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-.") or "model"
    if slug != model_id:
        slug = f"{slug[:48]}-{hashlib.sha1(model_id.encode('utf-8')).hexdigest()[:8]}"
    return Path(root) / slug


def cache_key(source: str | os.PathLike, **options) -> str:
    """What an entry made from `source` with `options` depends on, as 16 hex digits."""
    import onnxruntime as ort

    real = os.path.realpath(source)   # a Hugging Face snapshot file is a symlink to its blob
    st = os.stat(real)
    what = {"source": [real, st.st_size, st.st_mtime_ns], "onnxruntime": ort.__version__, **options}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ModelCache:
    """The entries of one model's folder."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def entry(self, name: str, key: str) -> Path:
        return self.folder / f"{name}-{key}"

    def lookup(self, name: str, key: str, main: str = MODEL) -> Path | None:
        """The entry's main file (its model, unless named otherwise) when the entry is whole, else None."""
        entry = self.entry(name, key)
        try:
            meta = json.loads((entry / META).read_text())
            files = meta["files"]
            if meta.get("key") != key or main not in files:
                return None
            for fname, size in files.items():
                if os.stat(entry / fname).st_size != size:
                    return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return entry / main

    def info(self, name: str, key: str) -> dict:
        """What the entry's meta.json says ({} when it cannot be read)."""
        try:
            meta = json.loads((self.entry(name, key) / META).read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def annotate(self, name: str, key: str, **fields) -> bool:
        """Add `fields` to a whole entry's meta.json (replaced atomically); False when it cannot be written."""
        meta = self.info(name, key)
        if not meta:
            return False
        path = self.entry(name, key) / META
        tmp = path.with_name(f".{META}.{os.getpid()}.tmp")
        try:
            with open(tmp, "w") as f:
                json.dump({**meta, **fields}, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass
            return False
        return True

    def discard(self, name: str, key: str) -> None:
        """Delete an entry found broken (a no-op in a library that cannot be written)."""
        shutil.rmtree(self.entry(name, key), ignore_errors=True)

    def writable(self) -> bool:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return os.access(self.folder, os.W_OK)

    def build(self, name: str, key: str, make: Callable[[Path], object], info: dict | None = None,
              main: str = MODEL):
        """Make the entry: `make(path)` writes `path` (= <tmp>/<main>, and any files beside it)
        and returns what the caller wants back (e.g. the session that wrote it). The folder is
        renamed into place once every file is written and synced. Returns (make's result, the
        entry's model file). OSError when the folder cannot be written (the caller goes on without)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sweep(name, keep=key)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}-{key}.", suffix=".tmp", dir=self.folder))
        try:
            os.chmod(tmp, 0o755)   # (mkdtemp's 0700 would stay the entry's)
            result = make(tmp / main)
            files = {}
            for p in sorted(tmp.iterdir()):
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
                files[p.name] = p.stat().st_size
            if main not in files:
                raise OSError(f"{main} was not written")
            meta = {"key": key, "files": files, "made_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(info or {})}
            with open(tmp / META, "w") as f:
                json.dump(meta, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            entry = self.entry(name, key)
            if self.lookup(name, key, main) is None:
                shutil.rmtree(entry, ignore_errors=True)   # a broken entry in the way
                try:
                    os.rename(tmp, entry)
                except OSError:
                    if self.lookup(name, key, main) is None:   # not another process's whole entry: a real failure
                        raise
            _fsync_dir(self.folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return result, entry / main

    def _sweep(self, name: str, keep: str) -> None:
        """Delete this name's entries for other keys, and temporary folders left by killed runs."""
        now = time.time()
        try:
            children = list(self.folder.iterdir())
        except OSError:
            return
        for p in children:
            if p.name.startswith(f"{name}-") and p.name != f"{name}-{keep}":
                shutil.rmtree(p, ignore_errors=True)
            elif p.name.startswith(f".{name}-") and p.name.endswith(".tmp"):
                try:
                    if now - p.stat().st_mtime > STALE_TMP_S:
                        shutil.rmtree(p, ignore_errors=True)
                except OSError:
                    pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
