"""What the app's full view shows of one photo."""
from __future__ import annotations

from ..catalog import location_label
from ..output.originals import original_name
from ..search.report import hit_summary, metadata_rows


def photo_details(rec: dict, locations) -> dict:
    """Everything the full view shows of a photo: its metadata as labelled rows, and every place
    it is stored, each present one (`locations`: catalog.present_locations) with its original name."""
    s = hit_summary(rec)
    places = [{"where": loc.get("label") or location_label(loc["path"], loc.get("entry")), "source": loc["source"],
               "present": loc["state"] == "ok", "original": None} for loc in rec["locations"]]
    kinds = {loc["source_id"]: loc["source"] for loc in rec["locations"]}
    for place, loc in zip(places, locations):   # the present ones come first, in the same order
        stem, ext, _orig = original_name(kinds.get(loc.source_id, "?"), loc, rec.get("format"))
        place["original"] = stem + ext
    return {"meta": metadata_rows(s, full_hash=True), "map": s["map"], "places": places,
            "paths": s["paths"], "plain": bool(s["files"])}
