"""How results read in a terminal: the text lines of status, list, search hits and models.
Only the CLI uses this; JSON output is the data itself."""
from __future__ import annotations

from .catalog import duration_text, location_label, photo_flags


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def status_lines(stats: dict) -> list[str]:
    lines = [f"library {stats['library']} ({human(stats['library_bytes'])}, schema v{stats['schema_version']})",
             f"photos: {stats['photos']} ({stats['photos_present']} present), locations: {stats['locations']}"]
    for s in stats["sources"]:
        states = ", ".join(f"{k} {v}" for k, v in sorted(s["locations"].items())) or "none"
        lines.append(f"  [{s['id']}] {s['kind']} {s['root']}: {s['photos']} photos; files: {states}; "
                     f"errors: {s['errors']}")
    for model, e in stats["embeddings"].items():
        lines.append(f"  model {model}: {e['embedded']} embedded, {e['indexed'] or 0} indexed")
    if stats["errors_by_kind"]:
        lines.append("errors: " + ", ".join(f"{k} {v}" for k, v in stats["errors_by_kind"].items())
                     + " (list them with `trove status --errors`)")
    if stats.get("report") and stats["sources"]:  # one source asked for: its own report
        from .ingest import source_class

        lines.append(source_class(stats["sources"][0]["kind"]).describe_report(stats["report"]))
    return lines


def source_lines(rows: list[dict]) -> list[str]:
    if not rows:
        return ["no sources yet (add one with `trove ingest folder|takeout|lrprev`)"]
    lines = [f"{'id':>4}  {'kind':<8}  {'photos':>7}  {'files':>7}  {'errors':>6}  {'last scan':<16}  root"]
    for s in rows:
        files = sum(v for k, v in s["locations"].items() if k != "missing")
        scan = (s["last_scan_at"] or "-")[:16].replace("T", " ")
        lines.append(f"{s['id']:>4}  {s['kind']:<8}  {s['photos']:>7}  {files:>7}  {s['errors']:>6}  {scan:<16}  "
                     f"{s['root']}")
    return lines


def removal_question(s: dict) -> str:
    return (f"Remove source [{s['id']}] {s['kind']} {s['root']}: {s['photos']} photos, {s['only_here']} of them "
            "in no other source (they leave the catalog and the index, with their embeddings; nothing on "
            "disk is touched)?")


def removal_line(r: dict) -> str:
    line = (f"removed source [{r['id']}] {r['kind']} {r['root']}: {r['locations']} files forgotten, "
            f"{r['photos_dropped']} photos dropped, {r['photos'] - r['only_here']} kept (held elsewhere too)")
    return line + (f"\n{r['note']}" if r.get("note") else "")


def error_line(r: dict) -> str:
    return f"{r['stage']}\t{r['kind']}\t{r['path'] or r['photo_id']}\t{r['message']}"


def photo_lines(rec: dict) -> list[str]:
    size = f"{rec['width']}x{rec['height']}" if rec["width"] else rec["media"]
    extra = [x for x in (rec["taken_at"], rec["camera"],
                         f"{rec['lat']:.5f},{rec['lon']:.5f}" if rec["lat"] is not None else None) if x]
    extra += [f"[{f}]" for f in photo_flags(rec)]
    lines = [f"{rec['id']}\t{rec['hash'][:12]}\t{size}\t{rec.get('label') or rec['path']}\t{' '.join(extra)}"]
    for loc in rec["locations"][1:]:
        lines.append(f"\t\t\talso: {loc.get('label') or location_label(loc['path'], loc.get('entry'))}"
                     f"{'' if loc['state'] == 'ok' else ' (' + loc['state'] + ')'}")
    for label in ("albums", "keywords", "people"):
        if rec[label]:
            lines.append(f"\t\t\t{label}: {', '.join(rec[label])}")
    return lines


def cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def model_lines(entries: list[dict], backend: str) -> list[str]:
    def towers(t: list[str]) -> str:
        return f" [cached: {'+'.join(t)}]" if t else ""

    lines = []
    for e in entries:
        here = e["cached"][backend]
        state = "cached" if len(here) == 2 else (f"cached ({here[0]} tower)" if here else "not cached")
        lines.append(f"{'*' if e['default'] else ' '} {e['name']:<14} {e['dim']:>4}d  {state:<22} {e['description']}")
        lines.append(f"    onnx: {e['onnx_repo']}{towers(e['cached']['onnx'])}   "
                     f"mlx: {e['mlx_repo']}{towers(e['cached']['mlx'])}")
    lines.append(f"(* default; this machine's auto backend: {backend}; --model also takes a local model "
                 "folder or a Hugging Face repository id)")
    return lines


def middle_cut(path: str, n: int) -> str:
    """`/home/ann/…/2019/IMG_0001.jpg`: the file name kept whole, the middle of the folders elided."""
    if len(path) <= n:
        return path
    head, name = path.rsplit("/", 1) if "/" in path else ("", path)
    room = n - len(name) - 2
    if room < 4:
        return "…/" + name
    left = room // 3
    return head[:left] + "…" + head[len(head) - (room - left):] + "/" + name


def _marks(s: dict) -> str:
    """What a result is beyond its place: [trashed], [video 0:12], [3 in stack]."""
    marks = [f"[{f}]" for f in s.get("flags", ())]
    if s.get("media") == "video":
        marks.append(f"[video {duration_text(s.get('duration')) or '?'}]")
    if (s.get("stack_size") or 0) > 1:
        marks.append(f"[{s['stack_size']} in stack]")
    return "".join(" " + m for m in marks)


def hits_table(rows, width: int) -> list[str]:
    """Search results at the terminal's width: a header, then rank, score, date, where, file."""
    width = max(width, 60)
    rows = [(rank, score, {**s, "where": s["where"] + _marks(s)}) for rank, score, s in rows]
    longest_name = max((len(s["shown_path"].rsplit("/", 1)[-1]) + 2 for _, _, s in rows), default=0)
    where_w = max(len(s["where"]) for _, _, s in rows)
    where_w = max(8, min(24, where_w, width - 34 - min(longest_name, 40)))  # room for the names first
    why = any((s.get("match") or {}).get("text") for _, _, s in rows)   # words matched too: say which
    fixed = 4 + 2 + 6 + 2 + 16 + 2 + where_w + 2 + (10 if why else 0)
    lines = [f"{'#':>4}  {'score':>6}  " + (f"{'match':<8}  " if why else "") + f"{'taken':<16}  "
             f"{'where':<{where_w}}  file"]
    for rank, score, s in rows:
        shown = f"{score:6.3f}" if score is not None else f"{'-':>6}"
        lines.append(f"{rank:>4}  {shown}  " + (f"{_why(s.get('match')):<8}  " if why else "")
                     + f"{(s['date'] or '-'):<16}  {cut(s['where'], where_w):<{where_w}}  "
                     f"{middle_cut(s['shown_path'], width - fixed)}")
    return lines


def _why(match: dict | None) -> str:
    """`image`, `name`, `title+`, ...: what found the photo (the model, or a field holding a word)."""
    if not match or not match.get("text"):
        return "image"
    fields = match.get("fields") or ["text"]
    word = {"names": "name", "description": "caption", "keywords": "keyword", "albums": "album"}.get(fields[0], fields[0])
    return (word + ("+" if len(fields) > 1 else ""))[:7] + ("*" if match.get("semantic") else "")
