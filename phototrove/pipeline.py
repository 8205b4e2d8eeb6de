"""One `trove ingest` run: the model loading beside the catalog stages, the crawler over each
source under the library's write lock, the index stage last; what the run says at the end; and
the library's status that runs leave behind."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from typing import Callable

from .crawler import Crawler
from .errors import UsageError
from .ingest.base import Source
from .library import Library


@dataclass
class Options:
    model: str | None = None
    add_model: bool = False   # embed with --model although the library is embedded with another one
    backend: str = "auto"
    device: str = "auto"
    precision: str = "fp32"   # the image tower's: int8 quantizes it once into <library>/models/ (ONNX only)
    vector_dtype: str = "float32"
    no_embed: bool = False
    no_tags: bool = False
    vocabulary: str | None = None      # a file of concepts extending the built-in vocabulary ...
    vocabulary_only: bool = False      # ... or replacing it
    batch_size: int = 32
    workers: int | None = None
    show_progress: bool = True
    log: Callable[[str], None] = lambda message: None


@dataclass
class SourceRun:
    kind: str
    root: str
    counts: dict
    errors: int
    report: dict | None = None   # the source's own report (Takeout), when it has one
    kept: bool = True            # False: only problems were found in it, so it was not added as a source
    problems: list[str] = field(default_factory=list)  # those problems (their rows left with the source)

    def as_dict(self) -> dict:
        return {"source": self.root, "kind": self.kind, **self.counts, "errors": self.errors,
                **({"report": self.report} if self.report is not None else {}),
                **({} if self.kept else {"not_added": True, "problems": self.problems})}

    def describe(self) -> str:
        c = self.counts
        if not self.kept:
            return "\n".join([f"{self.kind} {self.root}: nothing to catalogue in it, so it was not added as a source:"]
                             + [f"  {p}" for p in self.problems])
        line = (f"{self.kind} {self.root}: {c.get('discover.new', 0)} new, {c.get('discover.changed', 0)} changed, "
                f"{c.get('discover.unchanged', 0)} unchanged, {c.get('discover.missing', 0)} gone missing"
                + (f", {c['discover.moved']} replaced by a better copy" if c.get("discover.moved") else "") + "; "
                f"{c.get('read.photos', 0)} photos added, {c.get('read.duplicates', 0)} duplicates")
        line += f"; {c.get('embed.photos', 0)} embedded"
        if c.get("tag.photos"):
            line += f"; {c['tag.photos']} tagged"
        if "index.photos" in c:
            line += f"; {c['index.photos']} indexed"
        if c.get("discover.excluded"):
            reasons = ", ".join(f"{k.removeprefix('discover.excluded.')} {v}" for k, v in sorted(c.items())
                                if k.startswith("discover.excluded."))
            line += f"; {c['discover.excluded']} left out ({reasons})"
        line += f"; {self.errors} errors"
        if self.report:
            from .ingest import source_class

            line += "\n" + source_class(self.kind).describe_report(self.report)
        return line


@dataclass
class Run:
    sources: list[SourceRun] = field(default_factory=list)
    not_embedded: str | None = None   # why the photos were catalogued but not embedded

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.sources)


def model_spec(model: str | None) -> str:
    """How to load the model again later (for text queries): a local folder by its absolute path."""
    from .embed.models import DEFAULT_MODEL

    if model and os.path.isdir(model):
        return os.path.abspath(model)
    return model or DEFAULT_MODEL


def load_image_embedder(opts: Options, library: Library | None = None):
    """(embedder, None), or (None, reason) when the default model cannot be had right now (offline,
    not cached): the catalog stages still run. A model the user named that cannot load is a usage
    error, reported before any work. The library's `models/` folder holds what the backend derives
    from the model (the int8 image tower of --precision int8)."""
    from .embed import ModelUnavailable, load_embedder
    from .embed.models import DEFAULT_MODEL

    try:
        return load_embedder(opts.model or DEFAULT_MODEL, towers="image", backend=opts.backend,
                             device=opts.device, progress=opts.show_progress, background=True,
                             precision=opts.precision, cache_dir=library.models_dir if library else None,
                             log=opts.log), None
    except ModelUnavailable as e:
        return None, (f"{e}. Run the same command again when the model can be had (embedding continues "
                      "where it stopped), or pass --no-embed")


def ingest(library: Library, sources: list[Source], opts: Options, *, chroma_url: str | None = None) -> Run:
    """Crawl each source through every stage under the library's write lock."""
    from .ingest import source_report
    from .search.index import ChromaIndex

    run = Run()
    embedder = None
    model_errors: tuple = ()   # (the embed package, and numpy with it, is not loaded for --no-embed)
    if not opts.no_embed:
        from .embed import ModelError
        model_errors = (ModelError,)
        have = library_models(library)
        if opts.model is None and have:  # the library remembers its model
            opts = Options(**{**opts.__dict__, "model": have[0][1]})
        embedder, run.not_embedded = load_image_embedder(opts, library)
        if embedder is not None and have and embedder.model_id not in {m for m, _ in have} and not opts.add_model:
            raise UsageError(
                f"the library is embedded with model {have[0][0]!r}; --model {opts.model} would embed it a second "
                f"time with {embedder.model_id!r}: add --add-model to do that on purpose (searches then choose "
                "with --model), or leave --model out")
    tagger = None
    if opts.vocabulary_only and not opts.vocabulary:
        raise UsageError("--vocabulary-only needs --vocabulary FILE")
    if not opts.no_embed and not opts.no_tags:
        from .search.tags import Tagger, VocabularyError, library_vocabulary

        try:
            tagger = Tagger(library, library_vocabulary(library, opts.vocabulary, opts.vocabulary_only),
                            model_spec(opts.model), log=opts.log)
        except VocabularyError as e:
            raise UsageError(f"--vocabulary {e}") from None
    with library.writing() as catalog:
        index = None if opts.no_embed else ChromaIndex(library, url=chroma_url)
        spec = None if opts.no_embed else model_spec(opts.model)   # (no model registry, nor numpy, without)
        crawler = Crawler(catalog, embedder=embedder, model_spec=spec, index=index, tagger=tagger,
                          batch_size=opts.batch_size, workers=opts.workers, show_progress=opts.show_progress,
                          log=opts.log, vector_dtype=opts.vector_dtype, thumbs_dir=library.thumbs_dir)
        for source in sources:
            try:
                summary = crawler.run(source)
            except model_errors as e:  # the model, loading while the catalog stages ran, failed
                raise UsageError(f"{e} (the catalog stages' work is kept)") from None
            kept = summary.source_id is not None
            run.sources.append(SourceRun(source.kind, source.root, summary.counts, summary.errors,
                                         source_report(catalog, summary.source_id) if kept else None, kept,
                                         summary.problems))
    return run


def library_models(library: Library) -> list[tuple[str, str]]:
    """(model id, how to load it) of every model the library is embedded with, its own first."""
    if not library.exists():
        return []
    with library.reading() as catalog:
        default = catalog.default_model()
        models = sorted(catalog.embedding_models(), key=lambda m: m != default)
        return [(m, catalog.model_spec(m) or m) for m in models]


def takeout_source(library: Library, paths: list[str]):
    """The Takeout source for the given parts, with the parts given in earlier runs from the same
    folder that still exist (they belong to the same export)."""
    from .ingest.takeout.source import TakeoutSource, takeout_root

    given = [os.path.abspath(p) for p in paths]
    root = takeout_root(given)
    remembered: list[str] = []
    if library.exists():
        with library.reading() as catalog:
            info = catalog.source_info("takeout", root) or {}
        remembered = [p for p in info.get("paths", []) if os.path.exists(p)]
    return TakeoutSource(root, {"paths": sorted(set(given) | set(remembered))})


def dry_run(sources: list[Source], opts: Options) -> Run:
    """The whole catalogue and read into a throw-away library: nothing is embedded, the real
    library is not touched."""
    with tempfile.TemporaryDirectory(prefix="trove-dry-run-") as tmp:
        opts = Options(**{**opts.__dict__, "no_embed": True})
        return ingest(Library(tmp), sources, opts)


def library_status(library: Library, source_id: int | None = None) -> dict:
    """Counts per source and stage, errors by kind, library size; with a source, its own report."""
    if not library.exists():
        return {"library": str(library.root), "photos": 0, "sources": []}
    from .ingest import source_report

    with library.reading() as catalog:
        catalog.check()   # a damaged page is said, not hidden behind counts that happen to read
        stats = catalog.stats()
        report = source_report(catalog, source_id) if source_id is not None else None
    stats["library"] = str(library.root)
    stats["library_bytes"] = library.size_bytes()
    if source_id is not None:
        stats["sources"] = [s for s in stats["sources"] if s["id"] == source_id]
        if report:
            stats["report"] = report
    return stats


def error_rows(library: Library, source_id: int | None = None) -> list[dict]:
    """Every error row (of one source), oldest first."""
    if not library.exists():
        return []
    with library.reading() as catalog:
        return [{k: r[k] for k in r.keys()} for r in catalog.errors(source_id)]


# -- sources ---------------------------------------------------------------------------------------
def list_sources(library: Library) -> list[dict]:
    """Each source: id, kind, root, photos, files by state, errors, last scan."""
    if not library.exists():
        return []
    with library.reading() as catalog:
        return catalog.stats()["sources"]


def export(library: Library, out: str, *, options, text: str = "", plus=(), minus=(), images=(),
           like: str | None = None, filters=None, limit: int | None = None, min_score: float | None = None,
           model: str | None = None, chroma_url: str | None = None, show_progress: bool = True,
           log: Callable[[str], None] = lambda m: None) -> tuple[dict, list[dict]]:
    """`trove export`: the photos a search, `similar` or filters choose (everything by default),
    written into `out` (output/export.py). Returns the summary and, for --dry-run, the files planned."""
    from .output.export import export_selection
    from .search.selection import select_photos

    def choose(catalog):
        return select_photos(library, catalog, text=text, plus=plus, minus=minus, images=images, like=like,
                             filters=filters, limit=limit, min_score=min_score, model=model, chroma_url=chroma_url)
    return export_selection(library, out, choose, options=options, show_progress=show_progress, log=log)


def source_summary(library: Library, source_id: int) -> dict:
    """What removing the source would drop: its row, its photos, and how many of them only it holds."""
    if library.exists():
        with library.reading() as catalog:
            row = catalog.source(source_id)
            if row is not None:
                photos = len(catalog.photos_of_source(source_id))
                return {"id": source_id, "kind": row["kind"], "root": row["root"], "photos": photos,
                        "only_here": catalog.only_here(source_id)}
    raise UsageError(f"no source {source_id} in library {library.root} (see `trove sources`)")


def remove_source(library: Library, source_id: int, *, chroma_url: str | None = None,
                  show_progress: bool = True) -> dict:
    """`trove sources remove`: the source's locations leave the catalog (nothing on disk is
    touched); photos held elsewhere keep their other locations and lose this source's albums and
    metadata; the rest leave the index, then the catalog."""
    from .crawler import apply_source_meta
    from .search.index import ChromaIndex, SearchError

    about = source_summary(library, source_id)
    with library.writing() as catalog:
        locations = catalog.count_locations(source_id)
        with catalog.transaction():
            held = catalog.remove_source(source_id)
            for pid in catalog.present_among(held):
                apply_source_meta(catalog, pid)
        out = {**about, "locations": locations, "index_removed": 0, "note": None}
        if catalog.embedding_models():
            index = ChromaIndex(library, url=chroma_url)
            try:
                index.sync(catalog, show_progress)
                out["index_removed"] = index.removed
            except SearchError as e:  # the catalog is done; the index catches up at its next sync
                out["note"] = f"{e}; its photos leave the index at the next `trove index sync`"
        with catalog.transaction():
            out["photos_dropped"] = catalog.drop_orphans()
        catalog.refresh_all_text()
    return out
