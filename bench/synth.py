"""Synthetic 12-megapixel photos for the benchmarks: a few distinct images, made into any number of
distinct files (distinct content hashes) by a JPEG comment, so generating 500 files costs 5 encodes."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def photo_12mp(seed: int) -> bytes:
    return photo(seed, 4000, 3000)


def photo(seed: int, w: int, h: int, quality: int = 90) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([128 + 100 * np.sin(x / (150 + 20 * seed)), 128 + 100 * np.cos(y / 200 + seed),
                    (x + y) / 28 % 256], -1)
    img += rng.normal(0, 10, img.shape).astype(np.float32)  # sensor-like noise: realistic file sizes
    buf = io.BytesIO()
    Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same image with a COM segment after SOI: other bytes, same pixels."""
    body = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


# -- a synthetic catalog, made the fast way (rows straight into catalog.db, no files read) ------------
# Cameras with their share of a family library; None: no EXIF camera (screenshots, downloads).
CAMERAS = (("Apple iPhone 13", .30), ("Apple iPhone 8", .14), ("Google Pixel 7", .14), ("Canon EOS 80D", .12),
           ("Sony ILCE-7M3", .08), ("Fujifilm X-T3", .06), ("Samsung SM-G991B", .06), (None, .10))


def fill_catalog(cat, n: int, *, rng, path_of, start_year: int = 2015, years: int = 10, model_id: str | None = None,
                 dim: int = 512, albums: int = 400, in_album: float = 0.3, copies: float = 0.01,
                 near: float = 0.02, batch: int = 20000, progress=None) -> dict:
    """n photos in `cat` (an empty phototrove Catalog) as a real library would hold them, inserted in
    batches of straight SQL: a capture time spread evenly over `years` years from `start_year` (so one
    year holds ~1/years of the library, one month ~1/(12*years)), a camera by CAMERAS' shares, one of
    `albums` albums (Zipf-sized) for `in_album` of them, and one present location each in the "photos"
    source, at path_of(i). With `model_id`, a random unit embedding of `dim` floats each.

    Duplicates, the way a family library has them: `copies` of the photos also sit in 1-3 more places
    (the "backup" source: identical bytes are one photo with several locations), and `near` of them
    are near-duplicates: groups of 2-4 photos (a burst, an edit, a re-encode), seconds apart, each
    vector the group's first one plus noise (cosine 0.96-0.995 to it). Returns what was planted."""
    import numpy as np

    from phototrove.catalog import now_iso

    now = now_iso()
    photos_src = cat.ensure_source("folder", "/synthetic/photos")
    backup_src = cat.ensure_source("folder", "/synthetic/backup")
    start = int(np.datetime64(f"{start_year}-01-01T00:00:00", "s").astype(np.int64))
    span = int(np.datetime64(f"{start_year + years}-01-01T00:00:00", "s").astype(np.int64)) - start
    when = start + rng.integers(0, span, size=n)
    names = [c for c, _ in CAMERAS]
    shares = np.array([s for _, s in CAMERAS])
    camera = rng.choice(len(names), size=n, p=shares / shares.sum())
    # near-duplicate groups: consecutive photo ids, the first one the original
    group_of = np.full(n, -1, np.int64)
    groups, i = [], 0
    gap = max(1, int(round(3 / near))) if near else n   # ~`near` of photos in groups of 3 on average
    while near and i < n - 4:
        size = int(rng.integers(2, 5))
        if i // batch != (i + size - 1) // batch:   # a group inside one batch of rows
            i = (i // batch + 1) * batch
            continue
        groups.append((i, size))
        group_of[i:i + size] = i
        for j in range(1, size):
            when[i + j] = when[i] + j * int(rng.integers(1, 5))   # a burst: seconds apart
        i += int(rng.integers(gap // 2, gap * 3 // 2 + 1)) + size
    copied = np.flatnonzero((group_of < 0) & (rng.random(n) < copies))
    extra = {int(p): int(rng.integers(1, 4)) for p in copied}
    album_weights = 1.0 / np.arange(1, albums + 1)
    album_of = np.where(rng.random(n) < in_album,
                        rng.choice(albums, size=n, p=album_weights / album_weights.sum()), -1) if albums else \
        np.full(n, -1)
    taken = np.datetime_as_string(when.astype("datetime64[s]"), unit="s")
    with cat.db:
        cat.db.executemany("INSERT INTO albums(id, source_id, key, title) VALUES (?,?,?,?)",
                           [(a + 1, photos_src, f"album-{a}", f"Album {a:03d}") for a in range(albums)])
    loc_id = 0
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        with cat.db:
            cat.db.executemany(
                "INSERT INTO photos(id, hash, size, media, format, width, height, taken_at, camera, added_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(i + 1, f"{i + 1:064x}", 2_000_000 + 37 * (i % 1000), "image", "JPEG", 4032, 3024, str(taken[i]),
                  names[camera[i]], now) for i in range(lo, hi)])
            rows, links = [], []
            for i in range(lo, hi):
                loc_id += 1
                rows.append((loc_id, photos_src, path_of(i), 20000, 0, i + 1))
                if album_of[i] >= 0:
                    links.append((loc_id, int(album_of[i]) + 1))
                for c in range(extra.get(i, 0)):
                    loc_id += 1
                    rows.append((loc_id, backup_src, f"/synthetic/backup/{c}/{i:07d}.jpg", 20000, 0, i + 1))
            cat.db.executemany("INSERT INTO locations(id, source_id, path, size, mtime_ns, photo_id, state) "
                               "VALUES (?,?,?,?,?,?,'ok')", rows)
            cat.db.executemany("INSERT INTO location_albums(location_id, album_id) VALUES (?,?)", links)
            if model_id:
                vecs = rng.standard_normal((hi - lo, dim)).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                for g0, size in groups:
                    if lo <= g0 and g0 + size <= hi:
                        for j in range(1, size):
                            v = vecs[g0 - lo] + rng.uniform(0.1, 0.3) * rng.standard_normal(dim).astype(np.float32) \
                                / np.sqrt(dim)
                            vecs[g0 - lo + j] = v / np.linalg.norm(v)
                cat.put_embeddings(model_id, [(lo + j + 1, vecs[j]) for j in range(hi - lo)])
        if progress:
            progress(hi)
    return {"near_groups": len(groups), "near_photos": int(sum(s for _, s in groups)),
            "copied_photos": len(extra), "extra_locations": int(sum(extra.values())),
            "album_photos": int((album_of >= 0).sum())}
