"""One image of a Lightroom catalog, with its metadata converted on access (a 250k-image catalog
loads as rows, not as 250k x 10 conversions)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone


@dataclass(slots=True)
class CatalogImage:
    image_id: int                   # Adobe_images.id_local; negative when its row was unreadable:
                                    # -(AgLibraryFile.id_local), the photo known by its file alone
    uuid: str                       # the preview UUID (root file's id_global)
    digest: str | None              # the current preview digest (develop settings)
    root: str = ""                  # AgLibraryRootFolder.absolutePath
    root_name: str = ""
    folder: str = ""                # pathFromRoot, '/'-separated, ends in '/'
    base_name: str = ""
    extension: str = ""
    master: int | None = None       # the master image of a virtual copy
    copy_name: str | None = None
    capture_time: str | None = None
    rating: int | None = None
    pick: int = 0
    color_label: str | None = None
    orientation: int | None = None
    file_format: str | None = None
    # the catalog's rows as read, image id first: (id, camera, lens, focal length, APEX Av, APEX Tv, ISO,
    # lat, lon) and (id, keywords, people, ids of the keywords): names joined with \x1f, ids with ','
    exif: tuple | None = None
    tags: tuple | None = None
    caption: str | None = None
    title: str | None = None
    collections: tuple = ()         # ((collection id, name, (set, subset, ...)), ...): regular collections
    keyword_tree: dict | None = field(default=None, repr=False, compare=False)   # the catalog's, shared

    # converted on access: a 250k-image catalog loads as rows, not as 250k x 10 conversions
    @property
    def keywords(self) -> list[str]:
        return sorted(set(self.tags[1].split("\x1f"))) if self.tags and self.tags[1] else []

    @property
    def keyword_paths(self) -> list[str]:
        """Each keyword's path from the top of the keyword tree, 'Places|France|Paris' (as XMP's
        lr:hierarchicalSubject); [] unless one of them nests under another keyword."""
        tree = self.keyword_tree
        if not tree or not self.tags or not self.tags[3]:
            return []
        paths = sorted({p for p in map(tree.get, map(int, self.tags[3].split(","))) if p})
        return paths if any("|" in p for p in paths) else []

    @property
    def people(self) -> list[str]:
        return sorted(set(self.tags[2].split("\x1f"))) if self.tags and self.tags[2] else []

    def _exif(self, i: int):
        return self.exif[i + 1] if self.exif is not None else None

    @property
    def camera(self) -> str | None:
        v = self._exif(0)
        return v.strip() or None if v is not None else None

    @property
    def lens(self) -> str | None:
        v = self._exif(1)
        return v.strip() or None if v is not None else None

    @property
    def focal_length(self) -> float | None:
        v = self._exif(2)
        return round(v, 2) if v is not None else None

    @property
    def aperture(self) -> float | None:
        v = self._exif(3)
        return round(2 ** (v / 2), 1) if v is not None else None      # APEX Av -> f-number

    @property
    def shutter(self) -> float | None:
        v = self._exif(4)
        return round(1 / 2 ** v, 6) if v is not None else None         # APEX Tv -> seconds

    @property
    def iso(self):
        v = self._exif(5)
        return (int(v) if float(v).is_integer() else v) if v is not None else None

    @property
    def lat(self) -> float | None:
        v = self._exif(6)
        return round(v, 7) if v is not None and self._exif(7) is not None else None

    @property
    def lon(self) -> float | None:
        v = self._exif(7)
        return round(v, 7) if v is not None and self._exif(6) is not None else None

    @property
    def path(self) -> str:
        return f"{self.root}{self.folder}{self.base_name}" + (f".{self.extension}" if self.extension else "")

    @property
    def folder_parts(self) -> list[str]:
        """Where the original sits as Lightroom shows it: the root folder's name, then the folders
        below it (`['Photos', '2019', 'Beach']`)."""
        root = self.root_name or os.path.basename(self.root.rstrip("/\\")) or "root"
        return [root] + [p for p in re.split(r"[/\\]", self.folder) if p]

    @property
    def file_name(self) -> str:
        return os.path.basename(self.path)

    @property
    def is_virtual_copy(self) -> bool:
        return self.master is not None

    def meta(self) -> dict:
        """Catalog metadata under the keys the search catalog resolves (see ingest/base.py), plus
        Lightroom's own extras."""
        _utc, local, offset = capture_time(self.capture_time)
        m = {
            "taken_local": local, "utc_offset": offset,
            "lat": self.lat, "lon": self.lon, "camera": self.camera, "lens": self.lens,
            "orientation": self.orientation, "rating": self.rating, "keywords": self.keywords,
            "keyword_paths": self.keyword_paths,
            "people": self.people, "description": self.caption, "title": self.title,
            "pick": self.pick or None, "color_label": self.color_label,
            "focal_length": self.focal_length, "aperture": self.aperture, "shutter": self.shutter,
            "iso": self.iso, "original_path": self.path, "original_name": self.file_name,
            "copy_name": self.copy_name, "file_format": self.file_format,
            "lr_folder": "/".join(self.folder_parts) if self.root or self.folder else None,
            "lr_image_id": self.image_id if self.image_id > 0 else None,   # not the stand-in id of a file alone
            "lr_master_id": self.master,   # a virtual copy: it joins its master's stack
        }
        return {k: v for k, v in m.items() if v is not None and v != []}


_CAPTURE = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$")


def capture_time(value) -> tuple[str | None, str | None, str | None]:
    """Lightroom's captureTime -> (taken_at for the catalog, local wall-clock ISO, '+HH:MM' or None).
    Without a zone the local time is kept as it is (the camera's clock), like EXIF."""
    if not isinstance(value, str):
        return None, None, None
    m = _CAPTURE.match(value.strip())
    if not m:
        return None, None, None
    y, mo, d, h, mi, sec, zone = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec or 0))
    except ValueError:
        return None, None, None
    local = f"{y}-{mo}-{d}T{h}:{mi}:{sec or '00'}"
    if not zone:
        return local, local, None
    if zone == "Z":
        return local + "Z", local, "+00:00"
    sign = 1 if zone[0] == "+" else -1
    hh, mm = int(zone[1:3]), int(zone[-2:])
    tz = timezone(sign * timedelta(hours=hh, minutes=mm))
    utc = dt.replace(tzinfo=tz).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return utc, local, f"{zone[0]}{hh:02d}:{mm:02d}"
