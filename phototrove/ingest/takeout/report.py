"""The Takeout report: what discovery found (parts, sidecars matched, media without a sidecar and
why) combined with what hashing found (duplicates collapsed, albums, errors)."""
from __future__ import annotations


def takeout_report(catalog, source_id: int) -> dict:
    """What a Takeout source holds now: the discovery report plus what hashing found."""
    row = catalog.source(source_id)
    if row is None or row["kind"] != "takeout":
        return {}
    import json

    rep = dict(json.loads(row["info"] or "{}").get("report") or {})
    c = catalog.source_counts(source_id)
    # a photo counts as matched when any of its copies had a sidecar
    with_sidecar = catalog.photos_with_location_meta(source_id, "sidecar")
    photo_of = catalog.location_photos(source_id)
    unmatched = [u for u in rep.get("media_unmatched", [])
                 if photo_of.get(tuple(u.get("at", ()))) not in with_sidecar]
    rep.update({
        "source_id": source_id, "locations": c["locations"], "photos": c["photos"] - c["videos"] - c["raw"],
        "videos": c["videos"], "raw": c["raw"], "live_videos_linked": c["live_videos"],
        "flagged": {k: c[k] for k in ("trashed", "archived", "locked", "partner")},
        "duplicates_collapsed": c["locations"] - c["photos"], "bytes_saved": c["location_bytes"] - c["photo_bytes"],
        "photos_with_sidecar": len(with_sidecar), "media_unmatched": unmatched,
        "albums": catalog.album_counts(source_id), "errors": catalog.error_counts(source_id),
    })
    return rep


_FILE_KINDS = (("media", "media"), ("sidecars", "sidecars"), ("album_json", "album JSON"),
               ("other_json", "other JSON ignored"), ("other_products", "other Takeout products"),
               ("not_media", "not media (skipped)"), ("system", "system files"), ("unreadable", "unreadable"))


def describe_report(rep: dict, limit: int = 20) -> str:
    """The report for people: a few lines, the unmatched listed with their likely cause."""
    if not rep:
        return ""
    mb = rep.get("bytes_saved", 0) / (1 << 20)
    lines = [
        f"takeout [{rep.get('source_id')}]: {len(rep.get('parts', []))} part(s)"
        + (f", parts {', '.join(map(str, rep['parts_missing']))} missing" if rep.get("parts_missing") else ""),
        f"  photos: {rep.get('photos', 0)}, RAW: {rep.get('raw', 0)}, videos: {rep.get('videos', 0)} "
        f"({rep.get('live_videos_linked', 0)} live/motion linked to their still)",
        f"  duplicates collapsed: {rep.get('duplicates_collapsed', 0)} copies, {mb:.1f} MiB saved "
        f"({rep.get('locations', 0)} files -> {rep.get('photos', 0) + rep.get('raw', 0) + rep.get('videos', 0)} items)",
        f"  sidecars: {rep.get('sidecars_matched', 0)} of {rep.get('sidecars', 0)} matched; "
        f"{len(rep.get('media_unmatched', []))} media without sidecar, "
        f"{len(rep.get('sidecars_unused', []))} sidecars without media",
    ]
    files = rep.get("files")
    if files:
        parts = [f"{files.get(k, 0)} {label}" for k, label in _FILE_KINDS if files.get(k)]
        lines.append(f"  files: {files.get('listed', 0)} listed = " + (" + ".join(parts) or "0"))
    flagged = {k: v for k, v in (rep.get("flagged") or {}).items() if v}
    if flagged:
        lines.append("  flagged: " + ", ".join(f"{v} {k}" for k, v in flagged.items())
                     + (" (trashed ones are left out of search, similar, report and export unless "
                        "--include-trashed)" if flagged.get("trashed") else ""))
    for label, key in (("no sidecar", "media_unmatched"), ("unused sidecar", "sidecars_unused"),
                       ("skipped", "not_media")):
        rows = rep.get(key, [])
        for u in rows[:limit]:
            lines.append(f"    {label}: {u['path']} ({u['cause']})")
        if len(rows) > limit:
            lines.append(f"    ... and {len(rows) - limit} more (--json lists all)")
    albums = rep.get("albums", [])
    if albums:
        shown = ", ".join(f"{a['title']} ({a['photos']})" if isinstance(a, dict) else str(a) for a in albums[:limit])
        lines.append(f"  albums: {len(albums)}: {shown}" + (" ..." if len(albums) > limit else ""))
    errs = rep.get("errors") or {}
    lines.append("  errors: " + (", ".join(f"{k} {v}" for k, v in errs.items()) if errs else "none"))
    return "\n".join(lines)
