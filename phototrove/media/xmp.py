"""Reading XMP packets (in a file, or an `.xmp` sidecar) and IPTC-IIM records into catalog metadata
keys: keywords (dc:subject, lr:hierarchicalSubject, IPTC 2:25), title, description, rating
(-1 = rejected), colour label, people (PersonInImage, MWG and Microsoft face regions), capture
date with its zone, GPS."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "exifEX": "http://cipa.jp/exif/1.0/",
    "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/",
    "mwg-rs": "http://www.metadataworkinggroup.com/schemas/regions/",
    "stArea": "http://ns.adobe.com/xmp/sType/Area#",
    "MP": "http://ns.microsoft.com/photo/1.2/",
    "MPRI": "http://ns.microsoft.com/photo/1.2/t/RegionInfo#",
    "MPReg": "http://ns.microsoft.com/photo/1.2/t/Region#",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "GCamera": "http://ns.google.com/photos/1.0/camera/",
    "Container": "http://ns.google.com/photos/1.0/container/",
}
RDF = "{%s}" % NS["rdf"]
MAX_PACKET = 8 << 20
_ISO = re.compile(r"(\d{4})(?:-(\d\d)(?:-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?)?)?)?\s*(Z|[+-]\d\d:?\d\d)?$")


def q(name: str) -> str:
    prefix, local = name.split(":")
    return "{%s}%s" % (NS[prefix], local)


def read_xmp(packets: list[bytes], notes: list[str] | None = None) -> dict:
    """Catalog metadata from XMP packets (the first packet's values win over later ones)."""
    out: dict = {}
    for packet in packets:
        root = _parse(packet, notes)
        if root is None:
            continue
        for key, value in _fields(root).items():
            if key in ("keywords", "keyword_paths", "people") and key in out:   # several packets: all of them
                out[key] = sorted(set(out[key]) | set(value))
            else:
                out.setdefault(key, value)
    return out


def _parse(packet: bytes, notes: list[str] | None):
    if len(packet) > MAX_PACKET:
        if notes is not None:
            notes.append("XMP packet larger than 8 MiB: ignored")
        return None
    data = _utf8(packet).strip(b"\x00 \r\n\t")
    start = data.find(b"<x:xmpmeta")
    if start < 0:
        start = data.find(b"<rdf:RDF")
    if start > 0:
        data = data[start:]
    end = max(data.rfind(b"</x:xmpmeta>") + len(b"</x:xmpmeta>") if b"</x:xmpmeta>" in data else -1,
              data.rfind(b"</rdf:RDF>") + len(b"</rdf:RDF>") if b"</rdf:RDF>" in data else -1)
    if end > 0:
        data = data[:end]
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        if notes is not None:
            notes.append(f"XMP not well-formed ({e}): ignored")
        return None


def _utf8(packet: bytes) -> bytes:
    """XMP may be serialized in UTF-16 or UTF-32 (with or without a BOM): make it UTF-8."""
    head = packet[:64]
    for bom, enc in ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"),
                     (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le")):
        if head.startswith(bom):
            return packet.decode(enc, "replace").encode("utf-8")
    if head.count(b"\x00") > len(head) // 3:   # no BOM, but every other byte NUL: UTF-16
        enc = "utf-16-be" if head[:1] == b"\x00" else "utf-16-le"
        return packet.decode(enc, "replace").lstrip("\ufeff").encode("utf-8")
    return packet


def merge_xmp_iptc(xmp: dict, iptc: dict) -> dict:
    """XMP and IPTC of one file as one: XMP wins a field both have (as the Metadata Working Group
    says), keywords are the union, and a date comes whole (its zone with it) from one or the other."""
    out = {**iptc, **xmp}
    if "taken_local" in xmp:
        out.pop("utc_offset", None)
        if "utc_offset" in xmp:
            out["utc_offset"] = xmp["utc_offset"]
    if xmp.get("keywords") or iptc.get("keywords"):
        out["keywords"] = sorted(set(xmp.get("keywords", [])) | set(iptc.get("keywords", [])))
    return out


def _descriptions(root):
    return root.iter(RDF + "Description")


def _prop(root, name: str):
    """A property of any rdf:Description, as an attribute or an element."""
    tag = q(name)
    for d in _descriptions(root):
        if tag in d.attrib:
            return d.attrib[tag]
        el = d.find(tag)
        if el is not None:
            return el
    return None


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    alt = value.find(RDF + "Alt")
    if alt is not None:
        items = alt.findall(RDF + "li")
        chosen = next((li for li in items if li.get("{http://www.w3.org/XML/1998/namespace}lang") == "x-default"),
                      items[0] if items else None)
        return (chosen.text or "").strip() or None if chosen is not None else None
    return (value.text or "").strip() or None


def _list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    out = []
    for container in ("Bag", "Seq", "Alt"):
        c = value.find(RDF + container)
        if c is not None:
            out += [(li.text or "").strip() for li in c.findall(RDF + "li") if (li.text or "").strip()]
    if not out and (value.text or "").strip():
        out.append(value.text.strip())
    return out


def _fields(root) -> dict:
    out: dict = {}
    keywords = _list(_prop(root, "dc:subject"))
    paths = _list(_prop(root, "lr:hierarchicalSubject"))
    leaves = [p.split("|")[-1].strip() for p in paths if p.split("|")[-1].strip()]
    if keywords or leaves:
        out["keywords"] = sorted(set(keywords) | set(leaves))
    if paths:
        out["keyword_paths"] = sorted(set(paths))
    for key, name in (("title", "dc:title"), ("description", "dc:description")):
        value = _text(_prop(root, name))
        if value:
            out[key] = value
    rating = _text(_prop(root, "xmp:Rating"))
    if rating is not None:
        try:
            r = round(float(rating))
        except ValueError:
            r = None
        if r == -1:
            out["rejected"] = True
        elif r is not None and 0 <= r <= 5:
            out["rating"] = r
    label = _text(_prop(root, "xmp:Label"))
    if label:
        out["color_label"] = label
    people = set(_list(_prop(root, "Iptc4xmpExt:PersonInImage")))
    for region in root.iter(q("mwg-rs:RegionList")):
        for li in region.iter(RDF + "li"):
            for d in [li] + list(li.iter(RDF + "Description")):
                kind = d.get(q("mwg-rs:Type")) or _text(d.find(q("mwg-rs:Type")))
                name = d.get(q("mwg-rs:Name")) or _text(d.find(q("mwg-rs:Name")))
                if name and (kind or "Face") == "Face":
                    people.add(name.strip())
    for d in root.iter():
        name = d.get(q("MPReg:PersonDisplayName"))
        el = d.find(q("MPReg:PersonDisplayName"))
        for v in (name, _text(el) if el is not None else None):
            if v:
                people.add(v.strip())
    if people:
        out["people"] = sorted(people)
    for name in ("exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate"):
        when = parse_date(_text(_prop(root, name)))
        if when:
            out["taken_local"], offset = when
            if offset:
                out["utc_offset"] = offset
            break
    lat, lon = gps_coord(_text(_prop(root, "exif:GPSLatitude"))), gps_coord(_text(_prop(root, "exif:GPSLongitude")))
    if lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180 and not (lat == 0 and lon == 0):
        out["lat"], out["lon"] = round(lat, 7), round(lon, 7)
    from .exif import camera_name

    camera = camera_name(_text(_prop(root, "tiff:Make")), _text(_prop(root, "tiff:Model")))
    if camera:
        out["camera"] = camera
    lens = _text(_prop(root, "aux:Lens")) or _text(_prop(root, "exifEX:LensModel"))
    if lens:
        out["lens"] = lens
    if any(_text(_prop(root, n)) == "1" for n in ("GCamera:MotionPhoto", "GCamera:MicroVideo")):
        out["motion_photo"] = True   # a Pixel/Android motion photo: the JPEG carries its video
    burst = _text(_prop(root, "GCamera:BurstID"))
    if burst:
        out["burst"] = burst
    return out


def parse_date(text: str | None) -> tuple[str, str | None] | None:
    """'2019-07-14T21:00:00.50-07:00' -> ('2019-07-14T21:00:00.50', '-07:00'); a date alone is
    noon-less midnight of that day; None for what is not a date."""
    if not text:
        return None
    t = text.strip()
    t = t.replace("/", "-").replace(":", "-", 2) if re.match(r"\d{4}:\d\d:\d\d", t) else t
    m = _ISO.match(t)
    if not m:  # junk after a whole date and time ('2021:08:19 18:48:53A'): the date and time stand
        m = _ISO.match(t[:19]) if len(t) > 19 and re.match(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d", t) else None
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    if not (1800 <= int(y) <= 9999 and 1 <= int(mo or 1) <= 12 and 1 <= int(d or 1) <= 31
            and int(h or 0) < 24 and int(mi or 0) < 60 and int(s or 0) < 61):
        return None
    local = f"{y}-{mo or '01'}-{d or '01'}T{h or '00'}:{mi or '00'}:{s or '00'}{frac or ''}"
    offset = None
    if zone == "Z":
        offset = "+00:00"
    elif zone:
        z = zone.replace(":", "")
        hh, mm = int(z[1:3]), int(z[3:5])
        if hh * 60 + mm <= 14 * 60 and mm < 60:
            offset = f"{z[0]}{hh:02d}:{mm:02d}"
    return local, offset


def gps_coord(text: str | None) -> float | None:
    """XMP's 'DDD,MM.mmmmK' or 'DDD,MM,SSK' (K in NSEW), or a plain decimal."""
    if not text:
        return None
    t = text.strip().upper()
    sign = -1 if t[-1:] in ("S", "W") else 1
    t = t.rstrip("NSEW")
    try:
        parts = [float(p) for p in t.split(",")]
    except ValueError:
        return None
    if not parts or len(parts) > 3:
        return None
    value = parts[0] + (parts[1] / 60 if len(parts) > 1 else 0) + (parts[2] / 3600 if len(parts) > 2 else 0)
    return sign * value


# -- IPTC-IIM -----------------------------------------------------------------------------------------
def read_iptc(records: bytes | None, notes: list[str] | None = None) -> dict:
    """Keywords (2:25), title (2:05), caption (2:120), date and time created (2:55, 2:60)."""
    if not records:
        return {}
    values: dict[tuple[int, int], list[bytes]] = {}
    pos, n = 0, len(records)
    while pos + 5 <= n and records[pos] == 0x1C:
        rec, ds = records[pos + 1], records[pos + 2]
        size = int.from_bytes(records[pos + 3:pos + 5], "big")
        pos += 5
        if size & 0x8000:   # extended length: the next (size & 0x7fff) bytes hold it
            k = size & 0x7FFF
            size = int.from_bytes(records[pos:pos + k], "big")
            pos += k
        values.setdefault((rec, ds), []).append(records[pos:pos + size])
        pos += size
    if pos < n and notes is not None and records[pos:].strip(b"\x00"):
        notes.append("IPTC records damaged: read up to the damage")
    utf8 = any(v.startswith(b"\x1b%G") for v in values.get((1, 90), []))

    def text(raw: bytes) -> str:
        if utf8:
            return raw.decode("utf-8", "replace").strip()
        try:
            return raw.decode("utf-8").strip()
        except UnicodeDecodeError:   # no charset declared: Windows Latin-1 (cp1252), as exiftool reads it
            return raw.decode("cp1252", "replace").strip()

    out: dict = {}
    keywords = [text(v) for v in values.get((2, 25), []) if text(v)]
    if keywords:
        out["keywords"] = sorted(set(keywords))
    for key, ds in (("title", 5), ("description", 120)):
        if values.get((2, ds)) and text(values[(2, ds)][0]):
            out[key] = text(values[(2, ds)][0])
    date = text(values[(2, 55)][0]) if values.get((2, 55)) else ""
    if re.fullmatch(r"\d{8}", date):
        tm = text(values[(2, 60)][0]) if values.get((2, 60)) else ""
        m = re.fullmatch(r"(\d\d)(\d\d)(\d\d)([+-]\d{4})?", tm)
        iso = f"{date[:4]}-{date[4:6]}-{date[6:]}" + (f"T{m.group(1)}:{m.group(2)}:{m.group(3)}" if m else "")
        when = parse_date(iso + (m.group(4) if m and m.group(4) else ""))
        if when:
            out["taken_local"], offset = when
            if offset:
                out["utc_offset"] = offset
    return out
