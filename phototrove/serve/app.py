"""The HTTP side of `trove serve`: routes that call view.LibraryView and send what it answers.

Photos are addressed by catalog id (or full content hash), never by a path. The work of a request
(SQLite, Chroma, decoding) runs in a worker thread so one slow rendition never stalls a search."""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import TroveError
from ..search.thumbs import ensure_thumbs, ensure_rendition, rendition_side
from .security import Guard
from .view import PAGE, LibraryView, filters_from

STATIC = Path(__file__).with_name("static")
MAX_UPLOAD = 64 << 20     # an image dropped for "search by image"
CACHED = {"cache-control": "private, max-age=31536000, immutable"}   # content-addressed: never changes


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


def _number(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value))) if value is not None else default
    except ValueError:
        return default


def make_app(view: LibraryView, *, host: str = "127.0.0.1", port: int = 8765, token: str | None = None):
    async def call(fn, *args, **kwargs):
        """Run `fn` in a worker thread; trove's errors become a JSON error, not a traceback."""
        try:
            return await run_in_threadpool(fn, *args, **kwargs)
        except (LookupError, TroveError):
            raise
        except Exception as e:   # a bug or a decoder's surprise: one line in the log, never a traceback
            view.log(f"error: {type(e).__name__}: {e}")
            raise _Answer(_error(500, f"trove could not do that: {type(e).__name__}: {e}")) from None

    async def photo_ref(request: Request) -> tuple[int, str]:
        found = await call(view.photo_hash, request.path_params["ref"])
        if found is None:
            raise _Answer(_error(404, "no such photo (photos are named by id or content hash)"))
        return found

    async def index(request: Request):
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def info(request: Request):
        return JSONResponse(await call(view.facets))

    async def grid(request: Request):
        q = request.query_params
        filters = filters_from(q, stacks=q.get("stacks") != "0")
        if q.get("random"):
            return JSONResponse(await call(view.random, filters))
        return JSONResponse(await call(view.grid, filters, _number(q.get("offset"), 0, 0, 10**9),
                                       _number(q.get("limit"), PAGE, 1, 1000)))

    async def search(request: Request):
        q = request.query_params
        filters = filters_from(q, stacks=q.get("stacks") != "0")
        limit = _number(q.get("limit"), PAGE, 1, 1000)
        image = None
        if request.method == "POST":
            size = int(request.headers.get("content-length") or 0)
            if size > MAX_UPLOAD:
                return _error(413, f"that file is larger than {MAX_UPLOAD >> 20} MB")
            image = await request.body()
            if not image:
                return _error(400, "no image was sent")
        match = q.get("match", "both")
        if match not in ("both", "semantic", "text"):
            return _error(400, f"match {match!r}: both, semantic or text")
        return JSONResponse(await call(view.search, q.get("q", ""), q.getlist("plus"), q.getlist("minus"),
                                       filters=filters, limit=limit, image=image, match=match))

    async def photo(request: Request):
        pid, _digest = await photo_ref(request)
        return JSONResponse(await call(view.photo, pid))

    async def similar(request: Request):
        pid, _digest = await photo_ref(request)
        q = request.query_params
        return JSONResponse({"photos": await call(view.similar, pid, filters=filters_from(q),
                                                  limit=_number(q.get("limit"), 24, 1, 500))})

    async def thumb(request: Request):
        pid, _digest = await photo_ref(request)

        def made():
            paths, problems = ensure_thumbs(view.library, view.catalog(), [pid], workers=1)
            return paths.get(pid), problems.get(pid)
        return _image(*await call(made))

    async def rendition(request: Request):
        pid, _digest = await photo_ref(request)
        side = rendition_side(_number(request.query_params.get("w"), 1600, 1, 100000))
        return _image(*await call(lambda: ensure_rendition(view.library, view.catalog(), pid, side)))

    async def original(request: Request):
        pid, _digest = await photo_ref(request)
        got = await call(view.original, pid)
        disposition = _attachment(got.name)
        if got.path is not None:
            return FileResponse(got.path, headers={"content-disposition": disposition})
        return StreamingResponse(got.chunks(), media_type="application/octet-stream",
                                 headers={"content-disposition": disposition})

    async def export(request: Request):
        try:
            body = json.loads(await request.body() or b"{}")
            folder, layout = body["folder"], body.get("layout", "album")
            ids = [int(i) for i in body["ids"]] if "ids" in body else None
            filters = None if ids is not None else filters_from(QueryParams(str(body.get("filters") or "")),
                                                                stacks=False)
        except (ValueError, KeyError, TypeError, AttributeError):
            return _error(400, 'expected {"folder": "/full/path", "ids": [1, 2, ...]} or {"folder": ..., '
                               '"filters": "album=ski&from=2019"}')
        if not isinstance(folder, str) or not folder.strip() or not os.path.isabs(os.path.expanduser(folder)):
            return _error(400, "type a full folder path to export into (e.g. ~/Desktop/trip)")
        if layout not in ("album", "date", "day", "source", "flat"):
            return _error(400, f"layout {layout!r}: album, date, day, source or flat")
        return JSONResponse(await call(view.export, folder, layout, ids=ids, filters=filters))

    routes = [
        Route("/", index),
        Route("/api/info", info),
        Route("/api/grid", grid),
        Route("/api/search", search, methods=["GET", "POST"]),
        Route("/api/photo/{ref}", photo),
        Route("/api/similar/{ref}", similar),
        Route("/img/{ref}/thumb", thumb),
        Route("/img/{ref}/view", rendition),
        Route("/original/{ref}", original),
        Route("/api/export", export, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={_Answer: lambda request, exc: exc.response,
                                                       TroveError: lambda request, exc: _error(400, str(exc)),
                                                       LookupError: lambda request, exc: _error(404, "no such photo"),
                                                       404: lambda request, exc: _error(404, "not found"),
                                                       405: lambda request, exc: _error(405, "method not allowed")})
    return Guard(app, host=host, port=port, token=token)


class _Answer(Exception):
    """A response decided deep in a handler (an error to send)."""

    def __init__(self, response: Response):
        self.response = response


def _image(path, problem):
    if path is None:
        return _error(404, f"no picture of this photo can be made: {problem}")
    return FileResponse(path, media_type="image/jpeg", headers=CACHED)


def _attachment(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_") or "photo"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name.encode('utf-8', 'surrogateescape'))}"
