"""`trove`: parse, call, print. Logic lives in the modules below; heavy imports stay lazy so
`trove --help` and `trove status` start instantly.

Exit codes: 0 done; 1 finished, but some files failed (listed by `trove status --errors`);
2 usage error; 3 the library cannot be used now (busy, newer schema, disk full).
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import click

from .catalog import Catalog, CatalogError, location_label
from .library import Library, LibraryBusy

EXIT_OK, EXIT_FILE_ERRORS, EXIT_USAGE, EXIT_LIBRARY = 0, 1, 2, 3


@dataclass
class Context:
    library: Library
    quiet: bool
    chroma_url: str | None = None

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    @contextmanager
    def writing(self) -> Iterator[Catalog]:
        """The catalog under the library's write lock: a second writer exits, naming the holder."""
        try:
            self.library.lock()
        except LibraryBusy as e:
            fail(str(e))
        try:
            with self.catalog() as catalog:
                yield catalog
        finally:
            self.library.unlock()

    def catalog(self, *, readonly: bool = False) -> Catalog:
        try:
            return Catalog(self.library.catalog_path, readonly=readonly)
        except CatalogError as e:
            fail(str(e))


def fail(message: str, code: int = EXIT_LIBRARY):
    click.echo(f"trove: {message}", err=True)
    sys.exit(code)


def emit_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--library", "library", type=click.Path(file_okay=False), envvar="TROVE_LIBRARY",
              help="The library folder trove owns (default: the platform's user data folder; env TROVE_LIBRARY).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or per-file messages.")
@click.option("--chroma-url", envvar="TROVE_CHROMA_URL", default=None, metavar="URL",
              help="Use the Chroma server at http://host:port instead of the library's embedded index "
                   "(env TROVE_CHROMA_URL).")
@click.version_option(package_name="phototrove")
@click.pass_context
def main(ctx: click.Context, library: str | None, quiet: bool, chroma_url: str | None) -> None:
    """phototrove: find forgotten photos. Reads Takeout exports, Lightroom previews and folders in
    place into one local catalog, and searches them with CLIP."""
    ctx.obj = Context(Library(library), quiet, chroma_url)


# -- ingest ---------------------------------------------------------------------------------------
@main.group()
def ingest() -> None:
    """Read a collection into the catalog (never moving or modifying it), then embed and index it."""


def ingest_options(f):
    f = click.option("--model", envvar="TROVE_MODEL", default=None,
                     help="Embedding model: a registry name (`trove models`; default clip-vit-b32), "
                          "a local model folder, or module:factory.")(f)
    f = click.option("--backend", type=click.Choice(["auto", "onnx", "mlx"]), envvar="TROVE_BACKEND",
                     default="auto", show_default=True,
                     help="auto: MLX on Apple silicon, else ONNX Runtime (best execution provider).")(f)
    f = click.option("--vector-dtype", type=click.Choice(["float32", "float16"]), default="float32",
                     show_default=True, help="How embeddings are stored in the catalog.")(f)
    f = click.option("--no-embed", is_flag=True, help="Only catalog: skip the embed and index stages.")(f)
    f = click.option("--batch-size", type=click.IntRange(1, 4096), default=32, show_default=True)(f)
    f = click.option("--workers", type=click.IntRange(1, 64), default=None,
                     help="Threads for reading and decoding (default: up to 4).")(f)
    f = click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")(f)
    return f


def run_ingest(obj: Context, sources, *, model, no_embed, batch_size, workers, as_json, backend="auto",
               vector_dtype="float32", report=None, describe=None) -> None:
    """Crawl each source through every stage under the library's write lock; print a summary.
    `report(catalog, source_id) -> dict` adds a source-specific report (printed by `describe`)."""
    from .crawler import Crawler, DiskFull
    from .embed import ModelError
    from .search.index import ChromaIndex, SearchError

    embedder, skipped = None, None
    if not no_embed:
        embedder, skipped = load_image_embedder(obj, model, backend)
    summaries = []
    with obj.writing() as catalog:
        index = None if no_embed else ChromaIndex(
            obj.library, model=embedder.model_id if embedder else None, spec=_model_spec(model),
            url=obj.chroma_url)
        crawler = Crawler(catalog, embedder=embedder, index=index, batch_size=batch_size, workers=workers,
                          show_progress=not obj.quiet, log=obj.say, vector_dtype=vector_dtype)
        for source in sources:
            try:
                summary = crawler.run(source)
            except (DiskFull, SearchError) as e:
                fail(str(e))
            except ModelError as e:  # the model, loading while the catalog stages ran, failed
                fail(f"{e} (the catalog stages' work is kept)", EXIT_USAGE)
            except KeyboardInterrupt:
                fail("interrupted; everything committed so far is kept: run the same command to continue", 130)
            summaries.append({"source": source.root, "kind": source.kind, **summary.counts,
                              "errors": summary.errors})
            if report is not None:
                sid = catalog.ensure_source(source.kind, source.root, source.info)
                summaries[-1]["report"] = report(catalog, sid)
    errors = sum(s["errors"] for s in summaries)
    if as_json:
        for s in summaries:
            emit_json(s)
    else:
        for s in summaries:
            click.echo(describe_run(s))
            if describe is not None and s.get("report"):
                click.echo(describe(s["report"]))
        if errors:
            click.echo(f"{errors} file(s) failed; list them with `trove status --errors`")
    if skipped:
        click.echo(f"trove: photos catalogued but not embedded: {skipped}", err=True)
    sys.exit(EXIT_FILE_ERRORS if errors else EXIT_OK)


def describe_run(s: dict) -> str:
    parts = [f"{s['kind']} {s['source']}:",
             f"{s.get('discover.new', 0)} new, {s.get('discover.changed', 0)} changed, "
             f"{s.get('discover.unchanged', 0)} unchanged, {s.get('discover.missing', 0)} gone missing;",
             f"{s.get('read.photos', 0)} photos added, {s.get('read.duplicates', 0)} duplicates"]
    if "embed.photos" in s:
        parts.append(f"; {s['embed.photos']} embedded")
    if "index.photos" in s:
        parts.append(f"; {s['index.photos']} indexed")
    parts.append(f"; {s['errors']} errors")
    return " ".join(parts[:3]) + "".join(parts[3:])


@ingest.command("folder")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@ingest_options
@click.pass_obj
def ingest_folder(obj: Context, paths, **opts) -> None:
    """Ingest folders of photos (JPEG, PNG, WEBP, GIF, TIFF; HEIC with phototrove[heic])."""
    from .ingest.folder import FolderSource

    run_ingest(obj, [FolderSource(os.path.abspath(p)) for p in paths], **opts)


# -- status and list ------------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--errors", "show_errors", is_flag=True, help="List every error row (where, stage, reason).")
@click.option("--source", "source_id", type=int, default=None, help="Only this source (its id).")
@click.pass_obj
def status(obj: Context, as_json: bool, show_errors: bool, source_id: int | None) -> None:
    """Counts per source and stage, errors by kind, library size."""
    if not obj.library.exists():
        if as_json:
            emit_json({"library": str(obj.library.root), "photos": 0, "sources": []})
        else:
            click.echo(f"library {obj.library.root}: empty (ingest something first)")
        return
    with obj.catalog(readonly=True) as catalog:
        if show_errors:
            rows = catalog.errors(source_id)
            for r in rows:
                if as_json:
                    emit_json({k: r[k] for k in r.keys()})
                else:
                    click.echo(f"{r['stage']}\t{r['kind']}\t{r['path'] or r['photo_id']}\t{r['message']}")
            return
        stats = catalog.stats()
        report = _source_report(catalog, source_id) if source_id is not None else None
    stats["library"] = str(obj.library.root)
    stats["library_bytes"] = obj.library.size_bytes()
    if source_id is not None:
        stats["sources"] = [s for s in stats["sources"] if s["id"] == source_id]
        if report:
            stats["report"] = report
    if as_json:
        emit_json(stats)
        return
    click.echo(f"library {stats['library']} ({_human(stats['library_bytes'])}, schema v{stats['schema_version']})")
    click.echo(f"photos: {stats['photos']} ({stats['photos_present']} present), locations: {stats['locations']}")
    for s in stats["sources"]:
        states = ", ".join(f"{k} {v}" for k, v in sorted(s["locations"].items()))
        click.echo(f"  [{s['id']}] {s['kind']} {s['root']}: {s['photos']} photos; locations: {states}; "
                   f"errors: {s['errors']}")
    for model, e in stats["embeddings"].items():
        click.echo(f"  model {model}: {e['embedded']} embedded, {e['indexed'] or 0} indexed")
    if stats["errors_by_kind"]:
        click.echo("errors: " + ", ".join(f"{k} {v}" for k, v in stats["errors_by_kind"].items())
                   + " (list them with `trove status --errors`)")
    if report:
        click.echo(_describe_source_report(report))


@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per photo per line.")
@click.option("--source", "source_id", type=int, default=None, help="Only photos seen in this source.")
@click.pass_obj
def list_photos(obj: Context, as_json: bool, source_id: int | None) -> None:
    """Every photo with its metadata, content hash, locations, albums and keywords."""
    if not obj.library.exists():
        return
    with obj.catalog(readonly=True) as catalog:
        for pid in catalog.iter_photo_ids(source_id):
            rec = catalog.photo_record(pid)
            if as_json:
                emit_json(rec)
                continue
            size = f"{rec['width']}x{rec['height']}" if rec["width"] else rec["media"]
            extra = [x for x in (rec["taken_at"], rec["camera"],
                                 f"{rec['lat']:.5f},{rec['lon']:.5f}" if rec["lat"] is not None else None) if x]
            click.echo(f"{rec['id']}\t{rec['hash'][:12]}\t{size}\t{rec['path']}\t{' '.join(extra)}")
            for loc in rec["locations"][1:]:
                click.echo(f"\t\t\talso: {location_label(loc['path'], loc.get('entry'))}"
                           f"{'' if loc['state'] == 'ok' else ' (' + loc['state'] + ')'}")
            for label in ("albums", "keywords", "people"):
                if rec[label]:
                    click.echo(f"\t\t\t{label}: {', '.join(rec[label])}")


# -- takeout --------------------------------------------------------------------------------------
@ingest.command("takeout")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--dry-run", is_flag=True,
              help="Read, match and de-duplicate into a throw-away catalog and print the report; "
                   "the library is not touched.")
@ingest_options
@click.pass_obj
def ingest_takeout(obj: Context, paths, dry_run: bool, **opts) -> None:
    """Ingest a Google Photos Takeout: multi-part .zip/.tgz archives (read in place, never
    extracted), folders holding them, or an extracted Takeout/ folder. All PATHS form one source:
    a photo in one part and its sidecar in another are matched."""
    import tempfile

    from .ingest.takeout import TakeoutSource, describe_report, takeout_report

    given = [os.path.abspath(p) for p in paths]
    root = os.path.commonpath([p if os.path.isdir(p) else os.path.dirname(p) for p in given])
    remembered: list[str] = []
    if obj.library.exists():  # parts given in earlier runs still belong to this export
        with obj.catalog(readonly=True) as catalog:
            row = catalog.db.execute("SELECT info FROM sources WHERE kind='takeout' AND root=?", (root,)).fetchone()
            if row:
                remembered = [p for p in json.loads(row[0] or "{}").get("paths", []) if os.path.exists(p)]
    source = TakeoutSource(root, {"paths": sorted(set(given) | set(remembered))})
    if not dry_run:
        run_ingest(obj, [source], report=takeout_report, describe=describe_report, **opts)
        return
    with tempfile.TemporaryDirectory(prefix="trove-dry-run-") as tmp:  # a real read, thrown away
        opts["no_embed"] = True
        run_ingest(Context(Library(tmp), obj.quiet), [source], report=takeout_report,
                   describe=describe_report, **opts)


def _source_report(catalog: Catalog, source_id: int) -> dict | None:
    row = catalog.source(source_id)
    if row is not None and row["kind"] == "takeout":
        from .ingest.takeout import takeout_report

        return takeout_report(catalog, source_id)
    return None


def _describe_source_report(report: dict) -> str:
    from .ingest.takeout import describe_report

    return describe_report(report)


# -- Lightroom previews (ingest lrprev, recover lrprev) ---------------------------------------------
def _lr_catalog_option(f):
    return click.option("--catalog", "catalog", type=click.Path(exists=True, dir_okay=False),
                        help="The .lrcat (default: the catalog beside the .lrdata folder, if any).")(f)


def _check_lr_catalog(catalog: str | None) -> str | None:
    """An explicitly given catalog must be readable: a wrong --catalog is a usage error."""
    if catalog is None:
        return None
    from .ingest.lrcat import CatalogReadError, check_catalog

    try:
        check_catalog(catalog)
    except CatalogReadError as e:
        fail(str(e), EXIT_USAGE)
    return os.path.abspath(catalog)


@ingest.command("lrprev")
@click.argument("path", type=click.Path(exists=True))
@_lr_catalog_option
@ingest_options
@click.pass_obj
def ingest_lrprev(obj: Context, path, catalog, **opts) -> None:
    """Ingest a Lightroom Classic preview cache (`<Catalog> Previews.lrdata`), with the catalog's
    metadata when the .lrcat is there: one photo per image and virtual copy."""
    from .ingest.lrlibrary import LrprevSource

    info = {"catalog": _check_lr_catalog(catalog)} if catalog else {}
    run_ingest(obj, [LrprevSource(os.path.abspath(path), info)], **opts)


@main.group()
def recover() -> None:
    """Write photos back out of a cache (only into --out; sources are never modified)."""


@recover.command("lrprev")
@click.argument("path", type=click.Path(exists=True))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the JPEGs into (created if needed).")
@_lr_catalog_option
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.pass_obj
def recover_lrprev(obj: Context, path, out, catalog, dry_run, as_json) -> None:
    """Recover the largest complete preview of every photo as a lossless, tagged JPEG."""
    from .ingest.lrlibrary import load_plan
    from .recover import recover as run_recover

    catalog = _check_lr_catalog(catalog)
    plan = load_plan(path, catalog)
    for note in plan.notes:
        obj.say(note)
    for where, _kind, message in plan.errors:
        obj.say(f"error: {where}: {message}")
    try:
        result = run_recover(plan, out, dry_run=dry_run, show_progress=not obj.quiet, log=obj.say)
    except KeyboardInterrupt:
        fail("interrupted; what was written is kept: run the same command to continue", 130)
    except OSError as e:
        fail(f"cannot write into {out}: {e.strerror or e}")
    if dry_run and not obj.quiet and not as_json:
        for job in result.jobs:
            click.echo(f"{location_label(job.item.path, job.item.entry)} -> {job.rel}")
    summary = {"source": os.path.abspath(path), "out": os.path.abspath(out), "catalog": plan.catalog_path
               if plan.catalog else None, "photos": len(plan.items), **plan.counts, **result.counts,
               "errors": len(plan.errors) + len(result.failures)}
    if as_json:
        emit_json(summary)
    else:
        c = summary
        click.echo(f"{c['photos']} photos: {c.get('written', 0)} written, {c.get('already_done', 0)} already done"
                   + (f", {c['would_write']} would be written" if dry_run else "")
                   + f"; {c.get('stale', 0)} outdated previews skipped, {c['errors']} errors"
                   + (f"; {c['not_in_catalog']} not in the catalog" if c.get("not_in_catalog") else "")
                   + (f"; {c['root_pixels']} only as a tiny thumbnail" if c.get("root_pixels") else "")
                   + (f"; {c['images_without_preview']} catalog images have no preview"
                      if c.get("images_without_preview") else ""))
    sys.exit(EXIT_FILE_ERRORS if summary["errors"] else EXIT_OK)


# -- search, index and reports --------------------------------------------------------------------
def filter_options(f):
    for opt in reversed((
        click.option("--from", "date_from", metavar="DATE", help="Taken on or after (2019, 2019-07, 2019-07-14)."),
        click.option("--to", "date_to", metavar="DATE", help="Taken on or before (the whole day, month or year)."),
        click.option("--source", "sources", multiple=True, metavar="ID|PATH",
                     help="Only photos present in this source (its id, kind, or part of its path)."),
        click.option("--album", "albums", multiple=True, help="In an album whose title contains this (any of several)."),
        click.option("--camera", "cameras", multiple=True, help="Taken with a camera whose name contains this."),
        click.option("--keyword", "keywords", multiple=True, help="Tagged with this keyword (any of several)."),
        click.option("--min-rating", type=click.IntRange(0, 5), default=None, help="Rated at least this."),
        click.option("--favorite", is_flag=True, help="Only favorites."),
        click.option("--near", metavar="LAT,LON,KM", help="Taken within KM kilometres of LAT,LON."),
    )):
        f = opt(f)
    return f


def output_options(f):
    f = click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True)(f)
    f = click.option("--min-score", type=float, default=None, help="Drop results below this cosine similarity.")(f)
    f = click.option("--model", envvar="TROVE_MODEL", default=None,
                     help="The model to search with (default: the one the library was embedded with).")(f)
    f = click.option("--json", "as_json", is_flag=True, help="One JSON object per result per line.")(f)
    f = click.option("--paths", is_flag=True, help="Only the paths, one per line (for piping).")(f)
    f = click.option("--html", "html_out", type=click.Path(dir_okay=False), default=None,
                     help="Also write the results as an HTML gallery to this file.")(f)
    f = click.option("--open", "open_html", is_flag=True, help="Open the HTML gallery in the browser.")(f)
    return f


def _filters(opts: dict):
    from .search.query import Filters

    return Filters(**{k: opts.pop(k) for k in ("date_from", "date_to", "sources", "albums", "cameras", "keywords",
                                              "min_rating", "favorite", "near")})


def _search_errors(fn):
    """Search problems are one line: 3 when the index cannot be used, 2 for a bad request."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .embed import ModelError
        from .search.index import IndexUnavailable, ModelMismatch, NotIndexed, SearchError

        try:
            return fn(*args, **kwargs)
        except (IndexUnavailable, NotIndexed, ModelMismatch) as e:
            fail(str(e))
        except (SearchError, ModelError) as e:
            fail(str(e), EXIT_USAGE)
    return wrapper


def _read_catalog(obj: Context):
    if not obj.library.exists():
        fail(f"library {obj.library.root}: nothing indexed yet (run `trove ingest folder PATH --model NAME` first)")
    return obj.catalog(readonly=True)


def _print_hits(obj: Context, catalog, index, col, model_id, hits, *, title, as_json, paths, html_out, open_html):
    from .search.query import unindexed
    from .search.report import hit_summary

    behind = unindexed(catalog, model_id)
    if behind:
        obj.say(f"note: {behind} embedded photo(s) are not in the index yet; `trove index sync` adds them")

    for rank, hit in enumerate(hits, 1):
        s = hit_summary(hit.record)
        if as_json:
            emit_json({"rank": rank, "score": round(hit.score, 4), "id": hit.photo_id, **s})
        elif paths:
            click.echo(s["open_path"])
        else:
            click.echo(f"{rank:>4}  {hit.score:6.3f}  {(s['date'] or '-'):<16}  {_cut(s['where'], 24):<24}  {s['shown_path']}")
    if not hits and not (as_json or paths):
        obj.say("no matching photos")
    if html_out:
        from .search.report import write_gallery

        out = write_gallery(obj.library, catalog, index, col, model_id, html_out, title=title,
                            hits=[(h.photo_id, h.score) for h in hits], log=obj.say)
        obj.say(f"gallery: {out}")
        if open_html:
            _open(out)


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _open(path) -> None:
    import webbrowser
    from pathlib import Path

    webbrowser.open(Path(path).resolve().as_uri())


@main.command()
@click.argument("text", nargs=-1)
@click.option("--plus", multiple=True, metavar="TEXT", help="Also like this (repeatable; '2:sunset' weighs it twice).")
@click.option("--minus", multiple=True, metavar="TEXT", help="Unlike this ('beach' --minus 'people').")
@click.option("--image", "images", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Like this image file (need not be in the library; repeatable).")
@filter_options
@output_options
@click.pass_obj
@_search_errors
def search(obj: Context, text, plus, minus, images, model, limit, min_score, as_json, paths, html_out,
           open_html, **opts) -> None:
    """Photos that match TEXT (and/or --image FILE), best first.

    Weighted mixes: "2:red car" weighs a term twice; --plus adds terms, --minus subtracts them."""
    from .search.index import ChromaIndex, SearchError
    from .search.query import check_model, combine, open_collection, pick_model, query, weighted

    filters = _filters(opts)
    terms = ([weighted(" ".join(text))] if text else []) + [weighted(t) for t in plus]
    terms += [(-w, t) for w, t in map(weighted, minus)]
    if not terms and not images:
        raise SearchError("nothing to search for: give TEXT or --image FILE (see `trove search --help`)")
    with _read_catalog(obj) as catalog:
        import numpy  # noqa: F401  (before the prefetch thread, so the two threads share no import)

        index = ChromaIndex(obj.library, url=obj.chroma_url, readonly=True)
        model_id, spec = pick_model(catalog, index, model)
        index.prefetch(model_id)  # open the index and load its vectors while the model loads
        from .embed import load_embedder

        towers = "both" if terms and images else ("image" if images else "text")
        try:
            embedder = load_embedder(spec, towers=towers)
        except RuntimeError as e:  # Python's import lock saw the prefetch thread's imports cross ours
            if "deadlock" not in str(e):
                raise
            index.client  # wait for that thread, then import alone
            embedder = load_embedder(spec, towers=towers)
        check_model(catalog, model_id, embedder.model_id)
        col = open_collection(catalog, index, embedder.model_id)
        model_id = embedder.model_id
        parts = []
        if terms:
            vecs = embedder.encode_texts([t for _, t in terms])
            parts += [(w, v) for (w, _), v in zip(terms, vecs)]
        for path in images:
            from .ingest.media import MediaError, load_image

            try:
                with open(path, "rb") as fh:
                    im = load_image(fh.read(), min_side=embedder.image_size)
            except (MediaError, OSError) as e:
                raise SearchError(f"{path}: {e}") from None
            parts.append((1.0, embedder.encode_images([im])[0]))
        hits = query(catalog, index, col, combine(parts), filters=filters, limit=limit, min_score=min_score)
        title = " ".join(text) or ", ".join(os.path.basename(p) for p in images)
        _print_hits(obj, catalog, index, col, model_id, hits, title=f"search: {title}", as_json=as_json,
                    paths=paths, html_out=html_out, open_html=open_html)


@main.command()
@click.argument("photo")
@filter_options
@output_options
@click.pass_obj
@_search_errors
def similar(obj: Context, photo, model, limit, min_score, as_json, paths, html_out, open_html, **opts) -> None:
    """Photos that look like PHOTO (a catalog id, a content-hash prefix or a path). No model runs."""
    from .search.index import ChromaIndex, NotIndexed
    from .search.query import open_collection, pick_model, query, resolve_photo

    filters = _filters(opts)
    with _read_catalog(obj) as catalog:
        index = ChromaIndex(obj.library, url=obj.chroma_url, readonly=True)
        pid = resolve_photo(catalog, photo)
        model_id, _spec = pick_model(catalog, index, model)
        if not model_id:
            raise NotIndexed(f"the library has no embeddings for model {model!r} (it has: "
                             f"{', '.join(catalog.embedding_models())})")
        vector = catalog.embedding(pid, model_id)
        if vector is None:
            raise NotIndexed(f"photo {photo!r} has no {model_id} embedding yet (run `trove ingest` with --model)")
        col = open_collection(catalog, index, model_id)
        hits = query(catalog, index, col, vector, filters=filters, limit=limit, min_score=min_score, exclude={pid})
        _print_hits(obj, catalog, index, col, model_id, hits, title=f"like photo {pid}", as_json=as_json,
                    paths=paths, html_out=html_out, open_html=open_html)


@main.group("index")
def index_group() -> None:
    """The vector index (ChromaDB): rebuild or catch up from the catalog's stored embeddings."""


@index_group.command("rebuild")
@click.option("--model", "models", multiple=True, help="Only this model id (default: every model).")
@click.pass_obj
@_search_errors
def index_rebuild(obj: Context, models) -> None:
    """Drop and re-create the collections from the catalog's embeddings (no model runs)."""
    _with_index_lock(obj, lambda catalog, index: index.rebuild(catalog, list(models) or None,
                                                               show_progress=not obj.quiet), "rebuilt")


@index_group.command("sync")
@click.pass_obj
@_search_errors
def index_sync(obj: Context) -> None:
    """Send embeddings the index lacks and drop photos that are gone (what `ingest` does last)."""
    _with_index_lock(obj, lambda catalog, index: {"all": index.sync(catalog, show_progress=not obj.quiet)}, "sent")


def _with_index_lock(obj: Context, work, verb: str) -> None:
    """Run `work(catalog, index)` under the library's write lock; print one line per model."""
    from .search.index import ChromaIndex, NotIndexed

    if not obj.library.exists():
        raise NotIndexed(f"library {obj.library.root}: nothing to index yet")
    with obj.writing() as catalog:
        if not catalog.embedding_models():
            raise NotIndexed("the catalog holds no embeddings yet: run `trove ingest ... --model NAME`")
        index = ChromaIndex(obj.library, url=obj.chroma_url)
        for model_id, n in work(catalog, index).items():
            click.echo(f"{verb} {n} photo(s)" + ("" if model_id == "all" else f" for model {model_id}")
                       + (f"; removed {index.removed} gone" if index.removed else ""))


@main.group(invoke_without_command=True)
@filter_options
@click.option("--limit", type=click.IntRange(1, 100000), default=200, show_default=True,
              help="At most this many photos (each inlines its thumbnail and its neighbours').")
@click.option("--model", envvar="TROVE_MODEL", default=None, help="Model for 'more like this'.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the page (default: <library>/reports/gallery.html).")
@click.option("--open", "open_html", is_flag=True, help="Open it in the browser.")
@click.pass_context
@_search_errors
def report(ctx: click.Context, limit, model, out, open_html, **opts) -> None:
    """An HTML gallery of the library (newest first; filters as for search) with "more like this"."""
    if ctx.invoked_subcommand:
        return
    obj: Context = ctx.obj
    from .search.index import ChromaIndex
    from .search.query import build_where, open_collection, pick_model
    from .search.report import filtered_photo_ids, write_gallery

    filters = _filters(opts)
    with _read_catalog(obj) as catalog:
        index = ChromaIndex(obj.library, url=obj.chroma_url, readonly=True)
        col = model_id = None
        if catalog.embedding_models():
            model_id, _spec = pick_model(catalog, index, model)
            col = open_collection(catalog, index, model_id)
        where = build_where(catalog, filters)
        ids = filtered_photo_ids(catalog, index, col, where, filters, limit)
        path = write_gallery(obj.library, catalog, index, col, model_id,
                             out or obj.library.root / "reports" / "gallery.html",
                             title="phototrove", hits=[(pid, None) for pid in ids], log=obj.say)
    click.echo(str(path))
    if open_html:
        _open(path)


@report.command("duplicates")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.95, show_default=True,
              help="Cosine similarity at or above which two photos count as near-duplicates.")
@click.option("--model", envvar="TROVE_MODEL", default=None)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the page (default: <library>/reports/duplicates.html).")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON lines instead of a summary.")
@click.option("--open", "open_html", is_flag=True, help="Open it in the browser.")
@click.pass_obj
@_search_errors
def report_duplicates(obj: Context, threshold, model, out, as_json, open_html) -> None:
    """Groups of identical copies and near-duplicates, with sizes and every location."""
    from .search.index import ChromaIndex, NotIndexed
    from .search.query import open_collection, pick_model
    from .search.report import find_duplicates, write_duplicates

    with _read_catalog(obj) as catalog:
        index = ChromaIndex(obj.library, url=obj.chroma_url, readonly=True)
        model_id, _spec = pick_model(catalog, index, model)
        if not model_id:
            raise NotIndexed(f"the library has no embeddings for model {model!r}")
        col = open_collection(catalog, index, model_id)
        groups = find_duplicates(catalog, index, col, model_id, threshold)
        path = write_duplicates(obj.library, catalog, out or obj.library.root / "reports" / "duplicates.html",
                                groups, threshold=threshold, log=obj.say)
        if as_json:
            for g in groups:
                emit_json(g)
        else:
            click.echo(f"{len(groups)} group(s) of duplicates: {path}")
    if open_html:
        _open(path)


# -- models and embedding -------------------------------------------------------------------------
def _model_spec(model: str | None) -> str:
    """How to load the model again later (for text queries): a local folder by its absolute path."""
    from .embed.models import DEFAULT_MODEL

    if model and os.path.isdir(model):
        return os.path.abspath(model)
    return model or DEFAULT_MODEL


def load_image_embedder(obj: Context, model: str | None, backend: str):
    """(embedder, None), or (None, reason) when the default model cannot be had right now (offline,
    not cached): the catalog stages still run. A model the user named that cannot load is a usage
    error, reported before any work."""
    from .embed import ModelError, ModelUnavailable, load_embedder
    from .embed.models import DEFAULT_MODEL

    try:
        return load_embedder(model or DEFAULT_MODEL, towers="image", backend=backend,
                             progress=not obj.quiet, background=True), None
    except ModelUnavailable as e:
        return None, (f"{e}. Run the same command again when the model can be had (embedding continues "
                      "where it stopped), or pass --no-embed")
    except ModelError as e:
        fail(str(e), EXIT_USAGE)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model.")
def models(as_json: bool) -> None:
    """The model registry, and which models are in the local cache (nothing is downloaded)."""
    from .embed import pick_backend
    from .embed.download import cached_towers
    from .embed.models import DEFAULT_MODEL, REGISTRY

    backend = pick_backend("auto")
    for info in REGISTRY.values():
        cached = {"onnx": cached_towers(info.onnx_repo, "onnx"), "mlx": cached_towers(info.mlx_repo, "mlx")}
        if as_json:
            emit_json({"name": info.name, "family": info.family, "dim": info.dim, "image_size": info.image_size,
                       "default": info.name == DEFAULT_MODEL, "onnx_repo": info.onnx_repo,
                       "mlx_repo": info.mlx_repo, "cached": cached, "description": info.description})
            continue
        mark = "*" if info.name == DEFAULT_MODEL else " "
        here = cached[backend]
        state = "cached" if len(here) == 2 else (f"cached ({here[0]} tower)" if here else "not cached")
        click.echo(f"{mark} {info.name:<14} {info.dim:>4}d  {state:<22} {info.description}")
        click.echo(f"    onnx: {info.onnx_repo}{_towers(cached['onnx'])}   mlx: {info.mlx_repo}{_towers(cached['mlx'])}")
    if not as_json:
        click.echo(f"(* default; this machine's auto backend: {backend}; --model also takes a local model "
                   "folder or a Hugging Face repository id)")


def _towers(towers: list[str]) -> str:
    return f" [cached: {'+'.join(towers)}]" if towers else ""


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


if __name__ == "__main__":
    main()
