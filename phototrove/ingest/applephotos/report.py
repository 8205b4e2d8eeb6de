"""The Photos library report: what discovery found in the database and on disk (originals,
iCloud-only ones read from derivatives, edits, live videos, what was skipped) with what reading
found (photos, duplicates, albums, errors)."""
from __future__ import annotations

import json


def photos_report(catalog, source_id: int) -> dict:
    row = catalog.source(source_id)
    if row is None or row["kind"] != "applephotos":
        return {}
    rep = dict(json.loads(row["info"] or "{}").get("report") or {})
    c = catalog.source_counts(source_id)
    rep.update({
        "source_id": source_id, "locations": c["locations"], "photos": c["photos"] - c["videos"] - c["raw"],
        "videos": c["videos"], "raw": c["raw"], "live_videos_linked": c["live_videos"],
        "derivatives": len(catalog.photos_with_location_meta(source_id, "derivative")),
        "flagged": {k: c[k] for k in ("trashed", "archived")},
        "duplicates_collapsed": c["locations"] - c["photos"],
        "albums": catalog.album_counts(source_id), "errors": catalog.error_counts(source_id),
    })
    return rep


def describe_report(rep: dict, limit: int = 20) -> str:
    if not rep:
        return ""
    version = f"Photos {rep['photos_version']}" if rep.get("photos_version") else "Photos (version unknown)"
    lines = [f"applephotos [{rep.get('source_id')}]: {version}, model {rep.get('model_version') or '?'}, "
             f"{rep.get('assets', 0)} assets" + ("" if rep.get("read", True) else " (database not read)"),
             f"  photos: {rep.get('photos', 0)}, RAW: {rep.get('raw', 0)}, videos: {rep.get('videos', 0)} "
             f"({rep.get('live_videos_linked', 0)} live linked to their still); edits: {rep.get('renders', 0)}; "
             f"duplicates collapsed: {rep.get('duplicates_collapsed', 0)}"]
    if rep.get("derivatives_used") or rep.get("derivatives"):
        lines.append(f"  read from local derivatives: {rep.get('derivatives', 0)} (original in iCloud only: "
                     f"{rep.get('icloud_only', 0)}, referenced elsewhere: {rep.get('referenced_elsewhere', 0)}, "
                     f"lost: {rep.get('originals_lost', 0)})")
    flagged = {k: v for k, v in (rep.get("flagged") or {}).items() if v}
    if flagged:
        lines.append("  flagged: " + ", ".join(f"{v} {'hidden (archived)' if k == 'archived' else k}"
                                               for k, v in flagged.items()))
    if rep.get("not_in_database"):
        lines.append(f"  files the database does not name: {rep['not_in_database']} (read without metadata)")
    for key, label in (("skipped", "skipped"), ("damaged", "damaged tables")):
        if rep.get(key):
            lines.append(f"  {label}: " + "; ".join(rep[key][:limit]))
    albums = rep.get("albums", [])
    if albums:
        shown = ", ".join(f"{a['title']} ({a['photos']})" for a in albums[:limit])
        lines.append(f"  albums: {len(albums)}: {shown}" + (" ..." if len(albums) > limit else ""))
    errs = rep.get("errors") or {}
    lines.append("  errors: " + (", ".join(f"{k} {v}" for k, v in errs.items()) if errs else "none"))
    return "\n".join(lines)
