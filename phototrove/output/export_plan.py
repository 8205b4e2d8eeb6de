"""The plan of an export: for every photo chosen, the files it becomes (one per folder of the
layout), their names, what trove knows of it, and which of its files an earlier run already wrote.

Names are given in photo-id order, so the same selection always gets the same names; a name an
earlier run gave (the manifest) is kept, and never given to another photo. A photo's identity in
the manifest is (content hash, folder): a photo in two albums has a record per album."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..catalog.records import shown_label
from ..catalog.photos import ORIGIN_PRIORITY
from .layouts import Folders
from .naming import Names, pair_stems
from .originals import original_name

SIDECAR = ".xmp"
_LOCAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?")


@dataclass
class Job:
    """One file of the export."""
    key: str                   # the manifest's key: "<content hash>:<folder>"
    rel: str                   # its name, relative to the export folder
    prior: dict | None = None  # what an earlier run recorded for it
    there: bool = False        # the earlier run's file is still there


@dataclass
class PhotoPlan:
    rec: dict                  # catalog.export_records' record
    jobs: list[Job]            # the first one is written from the source, the others link to it
    original: str              # the original's name (written into the file)
    jpeg: bool                 # edited in place (else copied untouched, with a sidecar)
    label: str                 # how the photo is named to the user (its primary location; a Lightroom
                               # photo by its original's path)
    sidecar: bool = False      # an .xmp is planned beside it (a format not edited here)
    meta: dict = field(default_factory=dict)   # what goes into the file: with_meta() fills it in

    @property
    def todo(self) -> list[Job]:
        return [j for j in self.jobs if not j.there]

    def with_meta(self) -> None:
        """Fill in `meta` (the record's details, catalog.export_details, must be there)."""
        loc, (kind, _root) = self.rec["locations"][0], self.rec["sources"][0]
        self.meta = export_meta(self.rec, kind, loc, self.original)


@dataclass
class Plan:
    photos: list[PhotoPlan] = field(default_factory=list)
    absent: list[tuple[int, str]] = field(default_factory=list)   # (photo id, label): no present location


def plan_export(records: dict[int, dict], photo_ids: list[int], out: str, manifest: dict[str, dict], *,
                layout: str, metadata: bool) -> Plan:
    plan = Plan()
    folders = Folders(layout)
    wanted: list[tuple[PhotoPlan, list[str], str, str, str]] = []
    for pid in photo_ids:
        rec = records.get(pid)
        if rec is None:
            continue
        if not rec["locations"]:
            plan.absent.append((pid, rec["hash"][:12]))
            continue
        loc, (kind, _root) = rec["locations"][0], rec["sources"][0]
        stem, ext, orig = original_name(kind, loc, rec.get("format"))
        jpeg = kind == "lrprev" or (rec.get("format") or "").upper() == "JPEG"
        photo = PhotoPlan(rec, [], stem + (orig or ext), jpeg and metadata,
                          shown_label(kind, loc.path, loc.entry, loc.meta), metadata and not jpeg)
        plan.photos.append(photo)
        for folder in folders.of(rec):
            wanted.append((photo, folder, stem, ext, orig))
    stems = pair_stems([("/".join(folder), stem, ext, orig) for _p, folder, stem, ext, orig in wanted])
    names = Names()
    for rec in manifest.values():
        names.keep(rec["file"])
        names.keep(rec["file"] + SIDECAR)
    for (photo, folder, _stem, ext, _orig), stem in zip(wanted, stems):
        key = f"{photo.rec['hash']}:{'/'.join(folder)}"
        prior = manifest.get(key)
        if prior is not None:
            there = os.path.lexists(os.path.join(out, *prior["file"].split("/")))
            photo.jobs.append(Job(key, prior["file"], prior, there))
        else:
            photo.jobs.append(Job(key, names.claim(folder, stem, ext, (SIDECAR,))))
    # a photo's file is read once: read them in the order the sources hold them (a tar is read forward)
    plan.photos.sort(key=lambda p: (p.rec["locations"][0].source_id, p.rec["locations"][0].path,
                                    p.rec["locations"][0].id))
    return plan


def export_meta(rec: dict, kind: str, loc, original: str) -> dict:
    """What trove knows of the photo, as build_exif and build_xmp take it: every origin's values
    (the ones the catalog prefers last, so they win), then the catalog's resolved columns."""
    m: dict = {}
    for origin in reversed(ORIGIN_PRIORITY):
        m.update(rec["meta"].get(origin) or {})
    local = _LOCAL.match(rec.get("taken_at") or "")
    m.update({
        "taken_local": local.group() if local else None, "utc_offset": rec.get("utc_offset"),
        "taken_utc": rec.get("taken_utc"), "date_source": rec.get("date_source"),
        "keywords": rec["keywords"], "people": rec["people"],
        "stored_width": rec.get("stored_width"), "stored_height": rec.get("stored_height"),
        **{k: rec.get(k) for k in ("lat", "lon", "alt", "camera", "lens", "orientation", "title", "description",
                                   "rating")},
    })
    m.pop("taken_at", None)
    if kind != "lrprev":
        names = {original.lower(), str(loc.meta.get("title") or "").lower()}
        if isinstance(m.get("title"), str) and m["title"].strip().lower() in names:
            m["title"] = None   # a Takeout "title" is the upload's file name: it goes in as the original name
    # a Lightroom photo's original is the catalog's (a preview not in it has no known name)
    m["original_name"] = (loc.meta.get("original_name") or None) if kind == "lrprev" else original
    if kind == "lrprev":
        from ..ingest.lightroom.pairing import SMART_LEVEL

        if loc.meta.get("lr_level") == SMART_LEVEL:   # developed to sRGB by LibRaw
            m["color_space"] = "sRGB"
    return m
