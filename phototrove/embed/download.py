"""Fetching model files through huggingface_hub's cache: only the files a run needs.

Offline (HF_HUB_OFFLINE=1, or no network) a cached model loads from the cache; a model that is not
cached fails with one line saying what to do instead of a traceback.
"""
from __future__ import annotations

from pathlib import Path

from . import ModelError, ModelUnavailable


def fetch(repo: str, files: list[str], *, progress: bool = True) -> Path:
    """The snapshot folder of `repo` holding `files` (downloaded if needed)."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.utils import disable_progress_bars, enable_progress_bars
    except ImportError:
        raise ModelError("huggingface_hub is not installed: `pip install huggingface_hub`, "
                         "or pass --model a local model folder") from None
    cached = cached_snapshot(repo, files)
    if cached is not None:
        return cached
    (enable_progress_bars if progress else disable_progress_bars)()
    try:
        folder = Path(snapshot_download(repo, allow_patterns=files))
    except Exception as e:  # network, auth, missing repo, offline mode: all end the same way
        raise ModelUnavailable(f"cannot download model {repo} ({_reason(e)}); check the network, or download it "
                         f"elsewhere (`hf download {repo} --local-dir DIR`) and pass --model DIR") from None
    missing = [f for f in files if not (folder / f).exists() and not f.endswith("special_tokens_map.json")]
    if missing:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:  # offline, snapshot_download hands back whatever is cached
            raise ModelUnavailable(f"cannot download model {repo} (only partly cached: {', '.join(missing)} missing, "
                             "and HF_HUB_OFFLINE is set); run once online, or pass --model <a local copy>")
        raise ModelError(f"model {repo} lacks {', '.join(missing)}: not a usable model repository")
    return folder


def cached_snapshot(repo: str, files: list[str]) -> Path | None:
    """The cached snapshot folder holding every needed file, without touching the network."""
    from huggingface_hub import try_to_load_from_cache

    folder = None
    for name in files:
        hit = try_to_load_from_cache(repo, name)
        if not isinstance(hit, str):
            if name.endswith("special_tokens_map.json"):  # optional
                continue
            return None
        here = Path(hit).parents[len(Path(name).parts) - 1]
        if folder is not None and here != folder:
            return None  # files from two revisions: let snapshot_download sort it out
        folder = here
    return folder


def cached_towers(repo: str, backend: str) -> list[str]:
    """Which towers of `repo` are in the local cache, for `backend`'s file layout."""
    from .models import files_for

    try:
        return [t for t in ("image", "text") if cached_snapshot(repo, files_for(backend, t)) is not None]
    except Exception:  # an unreadable cache is an empty one
        return []


def _reason(e: Exception) -> str:
    name = type(e).__name__
    text = str(e).strip().splitlines()[0] if str(e).strip() else name
    if "offline" in text.lower() or name in ("LocalEntryNotFoundError", "OfflineModeIsEnabled"):
        return "not in the local cache and downloads are off or the network is unreachable"
    if name in ("RepositoryNotFoundError", "GatedRepoError"):
        return "repository not found or not accessible"
    return text[:200]
