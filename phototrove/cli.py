"""`trove`: parse, call, print. Logic lives in the modules below; heavy imports stay lazy so
`trove --help` and `trove status` start instantly.

Exit codes: 0 done; 1 finished, but some files failed (listed by `trove status --errors`);
2 usage error; 3 the library cannot be used now (busy, newer schema, disk full).
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

import click

from .catalog import Catalog, CatalogError
from .library import Library, LibraryBusy

EXIT_OK, EXIT_FILE_ERRORS, EXIT_USAGE, EXIT_LIBRARY = 0, 1, 2, 3


@dataclass
class Context:
    library: Library
    quiet: bool

    def say(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

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
@click.version_option(package_name="phototrove")
@click.pass_context
def main(ctx: click.Context, library: str | None, quiet: bool) -> None:
    """phototrove: find forgotten photos. Reads Takeout exports, Lightroom previews and folders in
    place into one local catalog, and searches them with CLIP."""
    ctx.obj = Context(Library(library), quiet)


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
               vector_dtype="float32") -> None:
    """Crawl each source through every stage under the library's write lock; print a summary."""
    from .crawler import Crawler, DiskFull
    from .embed import ModelError

    embedder, skipped = None, None
    if not no_embed:
        embedder, skipped = load_image_embedder(obj, model, backend)
    try:
        obj.library.lock()
    except LibraryBusy as e:
        fail(str(e))
    summaries = []
    try:
        with obj.catalog() as catalog:
            crawler = Crawler(catalog, embedder=embedder, batch_size=batch_size, workers=workers,
                              show_progress=not obj.quiet, log=obj.say, vector_dtype=vector_dtype)
            for source in sources:
                try:
                    summary = crawler.run(source)
                except DiskFull as e:
                    fail(str(e))
                except ModelError as e:  # the model, loading while the catalog stages ran, failed
                    fail(f"{e} (the catalog stages' work is kept)", EXIT_USAGE)
                except KeyboardInterrupt:
                    fail("interrupted; everything committed so far is kept: run the same command to continue", 130)
                summaries.append({"source": source.root, "kind": source.kind, **summary.counts,
                                  "errors": summary.errors})
    finally:
        obj.library.unlock()
    errors = sum(s["errors"] for s in summaries)
    if as_json:
        for s in summaries:
            emit_json(s)
    else:
        for s in summaries:
            click.echo(describe_run(s))
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
    stats["library"] = str(obj.library.root)
    stats["library_bytes"] = obj.library.size_bytes()
    if source_id is not None:
        stats["sources"] = [s for s in stats["sources"] if s["id"] == source_id]
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
                click.echo(f"\t\t\talso: {loc['path']}{'!' + loc['entry'] if loc.get('entry') else ''}"
                           f"{'' if loc['state'] == 'ok' else ' (' + loc['state'] + ')'}")
            for label in ("albums", "keywords", "people"):
                if rec[label]:
                    click.echo(f"\t\t\t{label}: {', '.join(rec[label])}")


# -- models and embedding -------------------------------------------------------------------------
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
