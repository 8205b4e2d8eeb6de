"""Auto-tags without typing: zero-shot tags from the stored image embeddings and a vocabulary of
everyday photo concepts, no second pass of the image model.

- The vocabulary: data/vocabulary.txt (about 1,500 concepts), extended or replaced by the user's
  file (one concept per line), remembered in the library so later runs tag alike.
- Each concept's text embedding is the mean of a few prompt forms ("a photo of {}", ...), computed
  once per model and vocabulary with the model's text tower and cached in `<library>/tags/`.
- Calibration: a photo's scores over the whole vocabulary form its own distribution; a concept is a
  tag when its score stands Z_MIN standard deviations above that photo's mean, plus a per-concept
  allowance for concepts that are close to everything (their text embedding lies near the
  vocabulary's centroid, so they score high on any photo: "photo", "picture", "image" would
  otherwise tag the whole library); at most TOP_K per photo. The margin above the threshold is
  stored as the tag's score.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

VOCABULARY = Path(__file__).with_name("data") / "vocabulary.txt"
PROMPTS = ("a photo of {}", "a picture of {}", "{}")
TOP_K = 5
Z_MIN = 3.5          # standard deviations above the photo's mean score over the vocabulary
GENERIC = 0.5        # how much a concept's closeness to the vocabulary's centroid raises its threshold
CALIBRATION = "z3.5-g0.5-k5"   # part of the vocabulary's digest: a new rule tags everything again
BATCH = 2048


class VocabularyError(ValueError):
    pass


@dataclass
class Vocabulary:
    concepts: list[str]

    @property
    def digest(self) -> str:
        text = json.dumps([self.concepts, PROMPTS, CALIBRATION], ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_concepts(path: str | Path) -> list[str]:
    """One concept per line; blank lines and `#` comments skipped; duplicates kept once."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise VocabularyError(f"{path}: {getattr(e, 'strerror', None) or e}") from None
    seen: dict[str, None] = {}
    for line in text.splitlines():
        concept = " ".join(line.split("#", 1)[0].split())
        if concept and len(concept) <= 200:
            seen.setdefault(concept.lower(), None)
    return list(seen)


def library_vocabulary(library, extra: str | None = None, only: bool = False) -> Vocabulary:
    """The vocabulary the library tags with: the built-in one, extended (or with `only`, replaced) by
    the concepts of `extra`, a file given now or remembered from an earlier run."""
    remembered = library.root / "tags" / "vocabulary.json"
    if extra is not None:
        own = read_concepts(extra)
        if not own:
            raise VocabularyError(f"{extra}: no concepts in it (one per line)")
        library.ensure()
        remembered.parent.mkdir(parents=True, exist_ok=True)
        from ..library import write_atomic

        write_atomic(remembered, lambda f: f.write(json.dumps({"concepts": own, "only": only}).encode("utf-8")))
    elif remembered.exists():
        saved = json.loads(remembered.read_text(encoding="utf-8"))
        own, only = saved["concepts"], saved["only"]
    else:
        own = []
    base = [] if only else read_concepts(VOCABULARY)
    return Vocabulary(base + [c for c in own if c not in set(base)])


class Tagger:
    """The tag stage: `run` tags every photo embedded with the model and not yet tagged with it and
    this vocabulary, in committed batches (so it resumes), from the stored vectors."""

    def __init__(self, library, vocabulary: Vocabulary, spec: str, *, log: Callable[[str], None] = lambda m: None):
        self.library, self.vocabulary, self.spec, self.log = library, vocabulary, spec, log
        self._matrix = self._threshold = None
        self.show_progress = False

    def _cache(self, model_id: str) -> Path:
        key = hashlib.sha256(model_id.encode("utf-8")).hexdigest()[:16]
        return self.library.root / "tags" / f"{key}-{self.vocabulary.digest}.npy"

    def prepare(self, model_id: str) -> None:
        """The concepts' text embeddings for the model (cached), and each concept's threshold offset."""
        import numpy as np

        path = self._cache(model_id)
        if path.exists():
            matrix = np.load(path)
        else:
            from ..embed import load_embedder
            from ..library import write_atomic

            # with the library's model folder: the cached text graph runs on each prompt's own
            # tokens (a few, not 77) and the tokenizer loads from its compact form (embed/cache.py)
            text = load_embedder(self.spec, towers="text", cache_dir=self.library.models_dir)
            if text.model_id != model_id:
                raise VocabularyError(f"the text tower of {self.spec!r} is {text.model_id!r}, not {model_id!r}")
            from ..progress import progress

            rows = []
            concepts = self.vocabulary.concepts
            with progress(total=len(concepts), desc="tag vocabulary (once per model)", unit="concept",
                          enabled=self.show_progress) as bar:
                for i in range(0, len(concepts), 256):
                    chunk = concepts[i:i + 256]
                    forms = text.encode_texts([p.format(c) for c in chunk for p in PROMPTS])
                    rows.append(np.asarray(forms, dtype=np.float32).reshape(len(chunk), len(PROMPTS), -1).mean(axis=1))
                    bar.update(len(chunk))
            matrix = np.concatenate(rows)
            matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
            write_atomic(path, lambda f: np.save(f, matrix.astype(np.float32)))
        centroid = matrix.mean(axis=0)
        closeness = matrix @ (centroid / max(float(np.linalg.norm(centroid)), 1e-12))
        spread = float(closeness.std()) or 1.0
        self._matrix = matrix
        self._threshold = Z_MIN + GENERIC * np.clip((closeness - closeness.mean()) / spread, 0, None)

    def tags_of(self, vectors) -> list[list[tuple[str, float]]]:
        """For each unit vector: [(concept, margin above its threshold)], best first, at most TOP_K."""
        import numpy as np

        scores = np.asarray(vectors, dtype=np.float32) @ self._matrix.T
        z = (scores - scores.mean(axis=1, keepdims=True)) / np.maximum(scores.std(axis=1, keepdims=True), 1e-6)
        margin = z - self._threshold[None, :]
        k = min(TOP_K, margin.shape[1])
        top = np.argpartition(-margin, k - 1, axis=1)[:, :k]
        out = []
        for row, idx in zip(margin, top):
            chosen = sorted(((float(row[i]), int(i)) for i in idx if row[i] >= 0), reverse=True)
            out.append([(self.vocabulary.concepts[i], m) for m, i in chosen])
        return out

    def run(self, catalog, model_id: str, *, show_progress: bool = False) -> int:
        """Tag what is not tagged yet; returns how many photos were tagged."""
        import numpy as np

        from ..progress import progress

        total = catalog.count_to_tag(model_id, self.vocabulary.digest)
        if not total:
            return 0
        self.show_progress = show_progress
        if self._matrix is None:
            from ..embed import ModelError

            try:
                self.prepare(model_id)
            except (ModelError, VocabularyError) as e:   # the text tower cannot be had now: next run
                self.log(f"note: no auto-tags this run ({e}); they are added by a later ingest")
                return 0
        done, after = 0, 0
        with progress(total=total, desc="tag", unit="photo", enabled=show_progress) as bar:
            while batch := catalog.photos_to_tag(model_id, self.vocabulary.digest, BATCH, after):
                after = batch[-1][0]
                found = self.tags_of(np.stack([v for _, v in batch]))
                with catalog.transaction():
                    catalog.put_tags(model_id, self.vocabulary.digest, [(pid, t) for (pid, _), t in zip(batch, found)])
                done += len(batch)
                bar.update(len(batch))
        return done
