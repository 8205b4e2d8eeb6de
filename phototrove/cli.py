"""`trove`: the command line. Each command parses its options, calls one function of the package
and prints what it returns; heavy imports stay inside the commands so `trove --help` and
`trove status` start instantly.

Every problem reaches the user as one line, `trove: <message>`, with the exit code of the README's
table (errors.py): 0 done; 1 finished, but some files failed; 2 usage error; 3 the library cannot
be used now; 130 interrupted.
"""
from __future__ import annotations

import os
import sqlite3
import sys
from dataclasses import dataclass

import click

from . import describe
from .errors import EXIT_BROKEN_PIPE, EXIT_FILE_ERRORS, EXIT_INTERRUPTED, EXIT_LIBRARY, EXIT_OK, TroveError
from .library import Library


@dataclass
class Context:
    library: Library
    quiet: bool
    chroma_url: str | None = None

    def say(self, message: str) -> None:
        """A note or per-file message on stderr (above any live progress bar); nothing with -q."""
        if not self.quiet:
            from .progress import say

            say(message)


GLOBAL_FLAGS = {"-q", "--quiet"}
GLOBAL_VALUES = {"--library", "--chroma-url"}


def globals_first(args: list[str]) -> list[str]:
    """`trove status --library X -q` as `trove --library X -q status`: the global options may come
    after the command too (up to a `--`)."""
    front, rest, i = [], [], 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest += args[i:]
            break
        if a in GLOBAL_FLAGS:
            front.append(a)
        elif a in GLOBAL_VALUES and i + 1 < len(args):
            front += [a, args[i + 1]]
            i += 1
        elif a.split("=", 1)[0] in GLOBAL_VALUES and "=" in a:
            front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest


class TroveGroup(click.Group):
    """Turns every TroveError into its one line and exit code, and Ctrl-C into a clean stop."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, globals_first(args) if ctx.parent is None else args)

    def invoke(self, ctx: click.Context):
        try:
            try:
                return super().invoke(ctx)
            finally:
                if ctx.parent is None:  # output still buffered meets a closed pipe here, not at exit
                    sys.stdout.flush()
        except TroveError as e:
            click.echo(f"trove: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("trove: interrupted; everything done so far is kept: run the same command to continue",
                       err=True)
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:  # `trove list | head`: the reader has all it wanted
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            ctx.exit(EXIT_BROKEN_PIPE)
        except sqlite3.DatabaseError as e:  # the catalog itself failed under a query
            from .catalog import explain

            error = explain(e, ctx.find_root().obj.library.catalog_path)
            click.echo(f"trove: {error}", err=True)
            ctx.exit(error.exit_code)


def emit_json(obj) -> None:
    """One JSON object per line; a file name that is not UTF-8 keeps its bytes as \\udcXX escapes."""
    from .catalog.sql import json_text

    click.echo(json_text(obj, default=str))


def finish(errors: int) -> None:
    sys.exit(EXIT_FILE_ERRORS if errors else EXIT_OK)


@click.group(cls=TroveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--library", "library", type=click.Path(file_okay=False), envvar="TROVE_LIBRARY",
              help="The library folder trove owns (default: the platform's user data folder; env TROVE_LIBRARY).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or per-file messages.")
@click.option("--chroma-url", envvar="TROVE_CHROMA_URL", default=None, metavar="URL",
              help="Use the Chroma server at http://host:port instead of the library's embedded index "
                   "(env TROVE_CHROMA_URL).")
@click.version_option(None, "-V", "--version", package_name="phototrove")
@click.pass_context
def main(ctx: click.Context, library: str | None, quiet: bool, chroma_url: str | None) -> None:
    """phototrove: find forgotten photos. Reads Takeout exports, Lightroom previews and folders in
    place into one local catalog, and searches them with CLIP."""
    for stream in (sys.stdout, sys.stderr):  # file names that are not UTF-8 print as their own bytes
        try:
            stream.reconfigure(errors="surrogateescape")
        except (AttributeError, ValueError):
            pass
    ctx.obj = Context(Library(library), quiet, chroma_url)


# -- ingest ---------------------------------------------------------------------------------------
@main.group(cls=TroveGroup)
def ingest() -> None:
    """Read a collection into the catalog (never moving or modifying it), then embed and index it."""


def ingest_options(f):
    f = click.option("--model", envvar="TROVE_MODEL", default=None,
                     help="Embedding model: a registry name (`trove models`), a local model folder, a Hugging "
                          "Face repository id, or module:factory (default: the library's own model, else "
                          "clip-vit-b32).")(f)
    f = click.option("--add-model", is_flag=True,
                     help="Embed with --model although the library is embedded with another model.")(f)
    f = click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "rocm", "coreml", "directml", "openvino",
                                                    "gpu"]), envvar="TROVE_DEVICE", default="auto", show_default=True,
                     help="Where the model runs (auto: the best there is; one that is not available is an error).")(f)
    f = click.option("--backend", type=click.Choice(["auto", "onnx", "mlx"]), envvar="TROVE_BACKEND",
                     default="auto", show_default=True,
                     help="auto: MLX on Apple silicon, else ONNX Runtime (best execution provider).")(f)
    f = click.option("--precision", type=click.Choice(["fp32", "int8"]), envvar="TROVE_PRECISION", default="fp32",
                     show_default=True,
                     help="The image tower's precision: int8 runs it quantized (ONNX Runtime only; made once and "
                          "kept in the library; faster on CPUs with VNNI). Text queries stay fp32.")(f)
    f = click.option("--vector-dtype", type=click.Choice(["float32", "float16"]), default="float32",
                     show_default=True, help="How embeddings are stored in the catalog.")(f)
    f = click.option("--no-embed", is_flag=True, help="Only catalog: skip the embed, tag and index stages.")(f)
    f = click.option("--no-tags", is_flag=True, help="Embed, but add no auto-tags (tags already there are kept).")(f)
    f = click.option("--vocabulary", type=click.Path(exists=True, dir_okay=False), default=None,
                     help="A file of concepts (one per line) to auto-tag with besides the built-in ones; the "
                          "library remembers it.")(f)
    f = click.option("--vocabulary-only", is_flag=True, help="With --vocabulary: only its concepts.")(f)
    f = click.option("--batch-size", type=click.IntRange(1, 4096), default=32, show_default=True,
                     help="Photos per committed batch (and per model call).")(f)
    f = click.option("--workers", type=click.IntRange(1, 64), default=None,
                     help="Threads for reading and decoding (default: up to 4).")(f)
    f = click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")(f)
    return f


def run_ingest(obj: Context, sources, *, as_json: bool, dry_run: bool = False, **opts) -> None:
    from .pipeline import Options, dry_run as dry, ingest as run

    options = Options(**opts, show_progress=not obj.quiet, log=obj.say)
    result = dry(sources, options) if dry_run else run(obj.library, sources, options, chroma_url=obj.chroma_url)
    for s in result.sources:
        if as_json:
            emit_json(s.as_dict())
            continue
        click.echo(s.describe())
    listed = sum(s.errors for s in result.sources if s.kept)
    if listed and not as_json:
        click.echo(f"{listed} file(s) failed; list them with `trove status --errors`")
    if result.not_embedded:  # the model could not be had: the library cannot be searched yet
        click.echo(f"trove: photos catalogued but not embedded: {result.not_embedded}", err=True)
        sys.exit(EXIT_LIBRARY)
    finish(result.errors)


@ingest.command("folder")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--exclude", "exclude", multiple=True, metavar="GLOB",
              help="Leave out what matches (gitignore syntax, relative to each folder; repeatable).")
@click.option("--no-default-excludes", is_flag=True,
              help="Also read NAS thumbnail/recycle folders, trash, hidden folders and other tools' caches.")
@ingest_options
@click.pass_obj
def ingest_folder(obj: Context, paths, exclude, no_default_excludes, **opts) -> None:
    """Ingest folders of photos, or photo files (JPEG, PNG, WEBP, GIF, TIFF; HEIC with phototrove[heic]).
    A `.troveignore` file (gitignore syntax) in any folder leaves out what it matches."""
    from .ingest.folder import folder_sources

    run_ingest(obj, folder_sources(list(paths), exclude=exclude, no_default_excludes=no_default_excludes), **opts)


@ingest.command("takeout")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--dry-run", is_flag=True,
              help="Read, match and de-duplicate into a throw-away catalog and print the report; "
                   "the library is not touched.")
@ingest_options
@click.pass_obj
def ingest_takeout(obj: Context, paths, **opts) -> None:
    """Ingest a Google Photos Takeout: multi-part .zip/.tgz archives (read in place, never
    extracted), folders holding them, or an extracted Takeout/ folder. All PATHS form one source:
    a photo in one part and its sidecar in another are matched."""
    from .pipeline import takeout_source

    run_ingest(obj, [takeout_source(obj.library, list(paths))], **opts)


def _lr_catalog_option(f):
    return click.option("--catalog", "catalog", type=click.Path(exists=True, dir_okay=False),
                        help="The .lrcat (default: the catalog beside the .lrdata folder, if any).")(f)


@ingest.command("lrprev")
@click.argument("path", type=click.Path(exists=True))
@_lr_catalog_option
@ingest_options
@click.pass_obj
def ingest_lrprev(obj: Context, path, catalog, **opts) -> None:
    """Ingest a Lightroom Classic preview cache (`<Catalog> Previews.lrdata`), with the catalog's
    metadata when the .lrcat is there: one photo per image and virtual copy."""
    from .ingest.lightroom.source import LrprevSource, checked_catalog, checked_previews_path

    checked_previews_path(path)
    info = {"catalog": checked_catalog(catalog)} if catalog else {}
    run_ingest(obj, [LrprevSource(os.path.abspath(path), info, scratch=str(obj.library.scratch_dir))], **opts)


@ingest.command("photos")
@click.argument("path", required=False, type=click.Path(exists=True))
@ingest_options
@click.pass_obj
def ingest_photos(obj: Context, path, **opts) -> None:
    """Ingest an Apple Photos library (`.photoslibrary`, Photos 5 and later; default on macOS:
    ~/Pictures/Photos Library.photoslibrary), read in place with its albums, keywords, people,
    places and dates. Originals only in iCloud are read from their local derivatives."""
    from .ingest.applephotos.source import photos_source

    run_ingest(obj, [photos_source(path, scratch=str(obj.library.scratch_dir))], **opts)


# -- status and list ------------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="The counts as one JSON object (the error rows as JSON lines).")
@click.option("--errors", "show_errors", is_flag=True, help="List every error row (where, stage, reason).")
@click.option("--source", "source_id", type=int, default=None, help="Only this source (its id).")
@click.pass_obj
def status(obj: Context, as_json: bool, show_errors: bool, source_id: int | None) -> None:
    """Counts per source and stage, errors by kind, library size."""
    from .pipeline import error_rows, library_status
    allow_quick_exit()

    if show_errors:
        for r in error_rows(obj.library, source_id):
            if as_json:
                emit_json(r)
            else:
                click.echo(describe.error_line(r))
        return
    stats = library_status(obj.library, source_id)
    if as_json:
        emit_json(stats)
    elif not obj.library.exists():
        click.echo(f"library {obj.library.root}: empty (ingest something first)")
    else:
        click.echo("\n".join(describe.status_lines(stats)))


# -- sources --------------------------------------------------------------------------------------
@main.group(cls=TroveGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """The sources in the library: id, kind, photos, files, errors, root."""
    if ctx.invoked_subcommand:
        return
    from .pipeline import list_sources

    rows = list_sources(ctx.obj.library)
    for r in rows if as_json else ():
        emit_json(r)
    if not as_json:
        click.echo("\n".join(describe.source_lines(rows)))


@sources.command("remove")
@click.argument("source_id", type=int)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print what was removed as JSON.")
@click.pass_obj
def sources_remove(obj: Context, source_id: int, yes: bool, as_json: bool) -> None:
    """Forget a source: its locations leave the catalog, and its photos that no other source holds
    leave the catalog and the index (with their embeddings). Nothing on disk is touched; ingest
    the source again to bring it back."""
    from .errors import UsageError
    from .pipeline import remove_source, source_summary

    about = source_summary(obj.library, source_id)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("add --yes to remove a source without being asked")
        click.confirm(describe.removal_question(about), abort=True)
    out = remove_source(obj.library, source_id, chroma_url=obj.chroma_url, show_progress=not obj.quiet)
    if as_json:
        emit_json(out)
    else:
        click.echo(describe.removal_line(out))


# -- recover --------------------------------------------------------------------------------------
@main.group(cls=TroveGroup)
def recover() -> None:
    """Write photos back out of a cache (only into --out; sources are never modified)."""


@recover.command("lrprev")
@click.argument("path", type=click.Path(exists=True))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the JPEGs into (created if needed).")
@_lr_catalog_option
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Files written at once.")
@click.pass_obj
def recover_lrprev(obj: Context, path, out, catalog, dry_run, as_json, workers) -> None:
    """Recover the largest complete preview of every photo as a lossless, tagged JPEG."""
    from .catalog import location_label
    from .output.recover import describe_recovery, recover_lrprev as run

    from .output.export import read_places

    summary, result = run(path, out, catalog=catalog, dry_run=dry_run, workers=workers, show_progress=not obj.quiet,
                          log=obj.say, keep_out_of=read_places(obj.library), scratch=str(obj.library.scratch_dir))
    if dry_run and not obj.quiet and not as_json:
        for job in result.jobs:
            click.echo(f"{location_label(job.item.path, job.item.entry)} -> {job.rel}")
    if as_json:
        emit_json(summary)
    else:
        click.echo(describe_recovery(summary, dry_run))
    finish(summary["errors"])


# -- search, similar and reports ------------------------------------------------------------------
def filter_options(f):
    for opt in reversed((
        click.option("--from", "date_from", metavar="DATE", help="Taken on or after (2019, 2019-07, 2019-07-14)."),
        click.option("--to", "date_to", metavar="DATE", help="Taken on or before (the whole day, month or year)."),
        click.option("--source", "sources", multiple=True, metavar="ID|PATH",
                     help="Only photos present in this source (its id, kind, or part of its path)."),
        click.option("--album", "albums", multiple=True, help="In an album whose title contains this (any of several)."),
        click.option("--camera", "cameras", multiple=True, help="Taken with a camera whose name contains this."),
        click.option("--keyword", "keywords", multiple=True, help="Tagged with this keyword (any of several)."),
        click.option("--tag", "tags", multiple=True,
                     help="Auto-tagged with this (`trove tags` lists them; any of several)."),
        click.option("--min-rating", type=click.IntRange(0, 5), default=None, help="Rated at least this."),
        click.option("--favorite", is_flag=True, help="Only favorites."),
        click.option("--near", metavar="LAT,LON,KM", help="Taken within KM kilometres of LAT,LON."),
        click.option("--trashed", is_flag=True, help="Only photos in the trash (left out otherwise)."),
        click.option("--archived", is_flag=True, help="Only archived photos."),
        click.option("--partner", is_flag=True, help="Only photos a partner shared with you."),
        click.option("--include-trashed", is_flag=True, help="Trashed photos too (they are left out by default)."),
        click.option("--media", type=click.Choice(["photo", "video", "all"]), default="all", show_default=True,
                     help="Photos (RAW included), videos, or both."),
        click.option("--no-stacks", "no_stacks", is_flag=True,
                     help="Every member of a stack (RAW+JPEG, edited+original, a burst), not just its best."),
    )):
        f = opt(f)
    return f


def output_options(f):
    f = click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True,
                     help="How many results.")(f)
    f = click.option("--min-score", type=float, default=None, help="Drop results below this cosine similarity.")(f)
    f = click.option("--model", envvar="TROVE_MODEL", default=None,
                     help="The model to search with (default: the one the library was embedded with).")(f)
    f = click.option("--json", "as_json", is_flag=True, help="One JSON object per result per line.")(f)
    f = click.option("--paths", is_flag=True, help="Only the paths, one per line (for piping).")(f)
    f = click.option("--html", "html_out", type=click.Path(dir_okay=False), default=None,
                     help="Also write the results as an HTML gallery to this file.")(f)
    f = click.option("--open", "open_html", is_flag=True,
                     help="Open the results as a gallery in the browser (with --html, that file).")(f)
    return self_contained_option(f)


def self_contained_option(f):
    return click.option("--self-contained", is_flag=True,
                        help="Inline the large views in the gallery page too: one file to send, several MB per "
                             "photo (default: they are written beside it, in PAGE_files/).")(f)


def _filters(opts: dict):
    from .search.filters import Filters

    return Filters(**{k: opts.pop(k) for k in ("date_from", "date_to", "sources", "albums", "cameras", "keywords", "tags",
                                              "min_rating", "favorite", "near", "trashed", "archived", "partner",
                                              "include_trashed", "media")}, stacks=not opts.pop("no_stacks"))


@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per photo per line.")
@click.option("--text", "words", metavar="TEXT", default=None,
              help="Only photos whose names, titles, captions, keywords, people or albums hold these words "
                   "(best match first).")
@filter_options
@click.pass_obj
def list_photos(obj: Context, as_json: bool, words: str | None, **opts) -> None:
    """Every photo with its metadata, content hash, locations, albums, keywords and auto-tags; with
    filters (those of `search`) or --text, the present photos they select, newest first. Works on
    a library that is not embedded."""
    from .search.selection import listed_records
    allow_quick_exit()

    if not obj.library.exists():
        return
    filters = _filters(opts)
    with obj.library.reading() as catalog:
        for rec in listed_records(catalog, filters, words):
            if as_json:
                emit_json(rec)
            else:
                click.echo("\n".join(describe.photo_lines(rec)))


def _open(path) -> None:
    import webbrowser
    from pathlib import Path

    webbrowser.open(Path(path).resolve().as_uri())


def _output(as_json: bool, paths: bool) -> None:
    if as_json and paths:
        raise click.UsageError("--json and --paths are two different outputs: choose one")


def materialize_option(f):
    return click.option("--materialize", is_flag=True,
                        help="Write results that are inside an archive or a cache to <library>/open/ first: "
                             "--paths prints those files, the gallery links them (--json: open_file).")(f)


def _print_results(obj: Context, results, *, as_json, paths, html_out, open_html, materialize=False,
                   self_contained=False) -> None:
    import shutil

    from .search.report import hit_summary

    if results.note:
        obj.say(f"note: {results.note}")
    if results.unindexed:
        obj.say(f"note: {results.unindexed} embedded photo(s) are not in the index yet; `trove index sync` adds them")
    done, images = results.coverage
    if done < images:
        obj.say(f"note: model {results.model_id} covers {done} of {images} photos ({100 * done // max(images, 1)}%)")
    rows = [(rank, hit.score, hit_summary(hit.record)) for rank, hit in enumerate(results.hits, 1)]
    files, failed = {}, {}
    if materialize:
        from .output.materialize import materialize_many

        files, failed = materialize_many(obj.library, results.catalog, [s["id"] for _r, _sc, s in rows])
        for problem in failed.values():
            obj.say(f"error: {problem}")
    if as_json:
        for rank, score, s in rows:
            extra = {"open_file": str(files[s["id"]]) if s["id"] in files else None} if materialize else {}
            emit_json({"rank": rank, "score": None if score is None else round(score, 4), "id": s["id"], **s, **extra})
    elif paths:
        for _rank, _score, s in rows:
            if not materialize:
                click.echo(s["open_path"])
            elif s["id"] in files:
                click.echo(str(files[s["id"]]))
        inside = sum(1 for _r, _sc, s in rows if not s["files"])
        if inside and not materialize:
            obj.say(f"note: {inside} result{' is' if inside == 1 else 's are'} inside archives or caches: "
                    "add --materialize to get openable files")
    elif rows:
        click.echo("\n".join(describe.hits_table(rows, shutil.get_terminal_size((80, 24)).columns)))
    else:
        obj.say("no matching photos")
    if html_out or open_html:
        from .search.report import results_gallery

        out = results_gallery(obj.library, results, html_out or obj.library.root / "reports" / "last-search.html",
                              show_progress=not obj.quiet, self_contained=self_contained, log=obj.say)
        obj.say(f"gallery: {out}")
        if open_html:
            _open(out)
    if failed:
        finish(len(failed))


@main.command()
@click.argument("text", nargs=-1)
@click.option("--plus", multiple=True, metavar="TEXT", help="Also like this (repeatable; '2:sunset' weighs it twice).")
@click.option("--minus", multiple=True, metavar="TEXT", help="Unlike this ('beach' --minus 'people').")
@click.option("--image", "images", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Like this image file (need not be in the library; repeatable).")
@click.option("--semantic", "match", flag_value="semantic", help="Only by what the photos show (the model).")
@click.option("--text", "match", flag_value="text",
              help="Only by the words of names, titles, captions, keywords, people and albums (no model).")
@filter_options
@output_options
@materialize_option
@click.pass_obj
def search(obj: Context, text, plus, minus, images, match, model, limit, min_score, as_json, paths, html_out,
           open_html, self_contained, materialize, **opts) -> None:
    """Photos that match TEXT (and/or --image FILE), best first: by what they show (the model) and
    by the words of their names, titles, captions, keywords, people and albums, the two rankings
    combined; the `match` column says which found each.

    Weighted mixes: "2:red car" weighs a term twice; --plus adds terms, --minus subtracts them."""
    from .search.query import run_search, search_terms
    allow_quick_exit()

    _output(as_json, paths)
    filters = _filters(opts)
    with obj.library.reading() as catalog:
        results = run_search(obj.library, catalog, terms=search_terms(" ".join(text), plus, minus), images=images,
                             model=model, filters=filters, limit=limit, min_score=min_score,
                             chroma_url=obj.chroma_url, title=" ".join(text), match=match or "both")
        _print_results(obj, results, as_json=as_json, paths=paths, html_out=html_out, open_html=open_html,
                       materialize=materialize, self_contained=self_contained)


@main.command()
@click.argument("photo")
@filter_options
@output_options
@materialize_option
@click.pass_obj
def similar(obj: Context, photo, model, limit, min_score, as_json, paths, html_out, open_html, self_contained,
            materialize, **opts) -> None:
    """Photos that look like PHOTO (a catalog id, a content-hash prefix or a path). No model runs."""
    from .search.query import run_similar
    allow_quick_exit()

    _output(as_json, paths)
    filters = _filters(opts)
    with obj.library.reading() as catalog:
        results = run_similar(obj.library, catalog, photo, model=model, filters=filters, limit=limit,
                              min_score=min_score, chroma_url=obj.chroma_url)
        _print_results(obj, results, as_json=as_json, paths=paths, html_out=html_out, open_html=open_html,
                       materialize=materialize, self_contained=self_contained)


@main.command("open")
@click.argument("photo")
@click.option("--print", "print_only", is_flag=True, help="Only print the file's path; open no viewer.")
@click.pass_obj
def open_photo(obj: Context, photo, print_only) -> None:
    """Open PHOTO (a catalog id, a content-hash prefix or a path) in the system's viewer.

    A photo inside an archive or a cache is written once to <library>/open/ first; the path is printed."""
    from .output.materialize import materialize, open_in_viewer
    from .search.query import resolve_photo

    with obj.library.reading() as catalog:
        path = materialize(obj.library, catalog, resolve_photo(catalog, photo))
    click.echo(str(path))
    if not print_only:
        open_in_viewer(path)


@main.group("index", cls=TroveGroup)
def index_group() -> None:
    """The vector index (ChromaDB): rebuild or catch up from the catalog's stored embeddings."""


def _index_line(verb: str, n: int, model_id: str | None, removed: int) -> str:
    return (f"{verb} {n} photo(s)" + (f" for model {model_id}" if model_id else "")
            + (f"; removed {removed} gone" if removed else ""))


@index_group.command("rebuild")
@click.option("--model", "models", multiple=True, help="Only this model id (default: every model).")
@click.pass_obj
def index_rebuild(obj: Context, models) -> None:
    """Drop and re-create the collections from the catalog's embeddings (no model runs)."""
    from .search.index import rebuild_index

    sent, removed = rebuild_index(obj.library, models, chroma_url=obj.chroma_url, show_progress=not obj.quiet)
    for model_id, n in sent.items():
        click.echo(_index_line("rebuilt", n, model_id, removed))


@index_group.command("sync")
@click.pass_obj
def index_sync(obj: Context) -> None:
    """Send embeddings the index lacks and drop photos that are gone (what `ingest` does last)."""
    from .search.index import sync_index

    sent, removed = sync_index(obj.library, chroma_url=obj.chroma_url, show_progress=not obj.quiet)
    click.echo(_index_line("sent", sent, None, removed))


@main.group(cls=TroveGroup, invoke_without_command=True)
@filter_options
@click.option("--limit", type=click.IntRange(1, 100000), default=200, show_default=True,
              help="At most this many photos (each inlines its thumbnail and its neighbours').")
@click.option("--model", envvar="TROVE_MODEL", default=None, help="Model for 'more like this'.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the page (default: <library>/reports/gallery.html).")
@click.option("--open", "open_html", is_flag=True, help="Open it in the browser.")
@self_contained_option
@click.pass_context
def report(ctx: click.Context, limit, model, out, open_html, self_contained, **opts) -> None:
    """An HTML gallery of the library (newest first; filters as for search) with "more like this"."""
    if ctx.invoked_subcommand:
        return
    from .search.report import library_gallery

    obj: Context = ctx.obj
    with obj.library.reading() as catalog:
        path = library_gallery(obj.library, catalog, filters=_filters(opts), limit=limit, model=model, out=out,
                               chroma_url=obj.chroma_url, show_progress=not obj.quiet,
                               self_contained=self_contained, log=obj.say)
    click.echo(str(path))
    if open_html:
        _open(path)


@report.command("duplicates")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.95, show_default=True,
              help="Cosine similarity at or above which two photos count as near-duplicates.")
@click.option("--model", envvar="TROVE_MODEL", default=None, help="The model whose embeddings are compared.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Where to write the page (default: <library>/reports/duplicates.html).")
@click.option("--json", "as_json", is_flag=True, help="Print the groups as JSON lines instead of a summary.")
@click.option("--open", "open_html", is_flag=True, help="Open it in the browser.")
@click.option("--include-trashed", is_flag=True, help="Trashed photos too (they are left out by default).")
@click.pass_obj
def report_duplicates(obj: Context, threshold, model, out, as_json, open_html, include_trashed) -> None:
    """Groups of identical copies and near-duplicates, with sizes and every location."""
    from .search.report import duplicates_report

    with obj.library.reading() as catalog:
        groups, path = duplicates_report(obj.library, catalog, threshold=threshold, model=model, out=out,
                                         chroma_url=obj.chroma_url, show_progress=not obj.quiet, log=obj.say,
                                         include_trashed=include_trashed)
    for g in groups if as_json else ():
        emit_json(g)
    if not as_json:
        click.echo(f"{len(groups)} group(s) of duplicates: {path}")
    if open_html:
        _open(path)


# -- export ---------------------------------------------------------------------------------------
@main.command("export")
@click.argument("out", metavar="DIR", type=click.Path(file_okay=False))
@click.argument("text", nargs=-1)
@click.option("--plus", multiple=True, metavar="TEXT", help="Also like this (repeatable; '2:sunset' weighs it twice).")
@click.option("--minus", multiple=True, metavar="TEXT", help="Unlike this ('beach' --minus 'people').")
@click.option("--image", "images", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Like this image file (repeatable).")
@click.option("--like", metavar="PHOTO", default=None,
              help="The photos that look like PHOTO (a catalog id, a content-hash prefix or a path), as `similar`.")
@filter_options
@click.option("--limit", type=click.IntRange(1, None), default=None,
              help="At most this many photos (default: 20 for a query or --like, as search; else every match).")
@click.option("--min-score", type=float, default=None, help="With a query: drop photos below this cosine similarity.")
@click.option("--model", envvar="TROVE_MODEL", default=None, help="The model to search with (with a query).")
@click.option("--layout", type=click.Choice(["album", "date", "day", "source", "flat"]), default="album",
              show_default=True, help="Folders: one per album (`no album/`), YYYY/MM, YYYY/MM-DD (local capture "
                                      "date; `undated/`), the source's own folders, or none.")
@click.option("--links", type=click.Choice(["hard", "symlink", "copy"]), default="hard", show_default=True,
              help="How a photo in several folders is there again: a hard link (a copy where the file system "
                   "has none), a relative symlink, or a copy.")
@click.option("--no-metadata", is_flag=True, help="Copy the bytes as they are: no EXIF/XMP written, no sidecars "
                                                   "(the modification time is still the capture time).")
@click.option("--dry-run", is_flag=True, help="List the files that would be written; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON (with --dry-run: one object per file first).")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Photos written at once (one at a time from a tgz).")
@click.pass_obj
def export(obj: Context, out, text, plus, minus, images, like, limit, min_score, model, layout, links, no_metadata,
           dry_run, as_json, workers, **opts) -> None:
    """Write photos out as real files into DIR, foldered by album or date, named after their
    originals, with what trove knows written into them (EXIF/XMP, or an .xmp sidecar).

    The photos are those a search for TEXT (or --image, --like PHOTO) finds, or those the filters
    match, or every photo; the trash only when asked for. Nothing is ever overwritten; run it again
    and only what is new is added."""
    from .output.export import Options, describe_export
    from .pipeline import export as run

    summary, planned = run(obj.library, out, options=Options(layout, links, not no_metadata, dry_run, workers),
                           text=" ".join(text), plus=plus, minus=minus, images=images, like=like,
                           filters=_filters(opts), limit=limit, min_score=min_score, model=model,
                           chroma_url=obj.chroma_url, show_progress=not obj.quiet, log=obj.say)
    for f in planned:
        if as_json:
            emit_json(f)
        else:
            click.echo(f"{f['from']} -> {f['file']} ({f['action']}{', with .xmp' if f['sidecar'] else ''})")
    if as_json:
        emit_json(summary)
    else:
        click.echo(describe_export(summary, dry_run))
    finish(summary["errors"] + summary["skipped_vanished"])


# -- auto-tags ------------------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tag.")
@click.option("--include-trashed", is_flag=True, help="Count trashed photos too.")
@click.pass_obj
def tags(obj: Context, as_json: bool, include_trashed: bool) -> None:
    """The auto-tags the model gave the photos, most common first, with how many photos carry each
    (`--tag T` on search, report, list and export selects them)."""
    if not obj.library.exists():
        return
    with obj.library.reading() as catalog:
        counts = catalog.tag_counts(include_trashed)
    for name, n in counts:
        if as_json:
            emit_json({"tag": name, "photos": n})
        else:
            click.echo(f"{n:>8}  {name}")
    if not counts and not as_json:
        obj.say("no auto-tags yet: they are added by `trove ingest` after embedding (unless --no-tags)")


# -- the web app ----------------------------------------------------------------------------------
@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="The port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on. Anything but this machine's loopback needs the token printed at start.")
@click.option("--open", "open_browser", is_flag=True, help="Open the app in the browser.")
@click.option("--model", envvar="TROVE_MODEL", default=None,
              help="The model to search with (default: the one the library was embedded with).")
@click.pass_obj
def serve(obj: Context, port, host, open_browser, model) -> None:
    """Search and browse the library in the browser: a grid by month, search by words or a dropped
    photo, filters, a full view with metadata and "more like this" to follow. Reads the library
    only (an ingest may run meanwhile); photos never leave this machine."""
    from .serve import serve as run

    run(obj.library, host=host, port=port, open_browser=open_browser, model=model, chroma_url=obj.chroma_url,
        say=lambda m: click.echo(m, err=True), log=obj.say)


# -- models ---------------------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model.")
def models(as_json: bool) -> None:
    """The model registry, and which models are in the local cache (nothing is downloaded)."""
    from .embed import pick_backend
    from .embed.models import registry_entries

    entries = registry_entries()
    if as_json:
        for e in entries:
            emit_json(e)
    else:
        click.echo("\n".join(describe.model_lines(entries, pick_backend("auto"))))


_QUICK_EXIT = False   # set by a read-only command whose process may end without tearing down


def allow_quick_exit() -> None:
    """This command writes nothing that is not already complete (its output is printed, pages and
    copies written atomically): the process may end as soon as output is flushed, without the
    interpreter's teardown of onnxruntime, Chroma and numpy (~0.1 s of a ~1 s `trove search`)."""
    global _QUICK_EXIT
    _QUICK_EXIT = True


def entry() -> None:
    """The `trove` command (and `python -m phototrove`): main, and the quick exit when allowed. (Not in
    main itself: tests call main in their own process.)"""
    try:
        main(prog_name="trove")
    except SystemExit as e:
        if _QUICK_EXIT and (e.code is None or isinstance(e.code, int)):
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except (OSError, ValueError):   # a closed pipe: the ordinary exit deals with it
                raise e from None
            os._exit(e.code or 0)
        raise

if __name__ == "__main__":
    entry()
