"""Writing XMP: a packet with what trove knows of a photo (keywords and their hierarchy, people,
caption, title, rating, colour label, date, original file name), well-formed whatever the text holds."""
from __future__ import annotations

import re

from ..media.exif import offset_text, utc_offset
from ..media.jpeg import MAX_SEGMENT, XMP_HEADER, JpegError


def build_xmp(meta: dict, *, gps: bool = False) -> bytes:
    """An XMP packet with what trove knows: keywords (flat, and as Lightroom's hierarchy from
    keyword_paths 'Places|France|Paris'), people, caption, title, rating (xmp:Rating, -1 when
    rejected), colour label, date with its offset, original file name; with `gps`, the position
    (exif:GPSLatitude/GPSLongitude, for a file whose EXIF has none)."""
    props, blocks = [], []
    rating = meta.get("rating")
    if meta.get("pick") == -1:
        props.append('xmp:Rating="-1"')  # XMP's "rejected"
    elif type(rating) is int and 0 <= rating <= 5:
        props.append(f'xmp:Rating="{rating}"')
    if meta.get("color_label"):
        props.append(f'xmp:Label={_attr(meta["color_label"])}')
    local = meta.get("taken_local")
    if local:
        delta = utc_offset(meta.get("utc_offset"))
        props.append(f'photoshop:DateCreated={_attr(local + (offset_text(delta) if delta is not None else ""))}')
    if gps:
        props += _gps(meta)
    if meta.get("original_name"):
        props.append(f'xmpMM:PreservedFileName={_attr(meta["original_name"])}')
    for key, tag in (("keywords", "dc:subject"), ("keyword_paths", "lr:hierarchicalSubject"),
                     ("people", "Iptc4xmpExt:PersonInImage")):
        items = "".join(f"<rdf:li>{e}</rdf:li>" for e in map(escape, meta.get(key) or ()) if e)
        if items:
            blocks.append(f"<{tag}><rdf:Bag>{items}</rdf:Bag></{tag}>")
    for key, tag in (("description", "dc:description"), ("title", "dc:title")):
        text = escape(meta[key]) if meta.get(key) else ""
        if text:   # nothing left once the characters XML cannot hold are gone: no empty caption
            blocks.append(f'<{tag}><rdf:Alt><rdf:li xml:lang="x-default">{text}</rdf:li></rdf:Alt></{tag}>')
    attrs = "".join("\n    " + p for p in props)
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '<rdf:Description rdf:about=""\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
        '    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"\n'
        '    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"\n'
        + ('    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n' if any(p.startswith("exif:") for p in props) else "") +
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        f"{attrs}>\n" + "\n".join(blocks) + "\n</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    data = packet.encode("utf-8")
    if len(data) + len(XMP_HEADER) > MAX_SEGMENT:  # absurd keyword lists: keep what fits
        raise JpegError("XMP packet larger than one JPEG segment")
    return data


def fitting_xmp(meta: dict, *, gps: bool = False) -> bytes:
    """build_xmp, or, when absurd keyword lists or captions do not fit one JPEG segment, the packet
    without them."""
    try:
        return build_xmp(meta, gps=gps)
    except JpegError:
        return build_xmp({k: v for k, v in meta.items()
                          if k not in ("keywords", "keyword_paths", "people", "description")}, gps=gps)


def _gps(meta: dict) -> list[str]:
    """XMP's GPS coordinates: 'DDD,MM.mmmmmmmK' (degrees, decimal minutes, hemisphere)."""
    lat, lon = meta.get("lat"), meta.get("lon")
    ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon))
    if not ok or abs(lat) > 90 or abs(lon) > 180:
        return []

    def coord(v: float, pos: str, neg: str) -> str:
        deg, minutes = divmod(abs(v) * 60, 60)
        return f"{int(deg)},{minutes:.7f}{neg if v < 0 else pos}"

    out = [f'exif:GPSLatitude="{coord(lat, "N", "S")}"', f'exif:GPSLongitude="{coord(lon, "E", "W")}"']
    alt = meta.get("alt")
    if isinstance(alt, (int, float)) and not isinstance(alt, bool) and abs(alt) < 1e6:
        out += [f'exif:GPSAltitudeRef="{1 if alt < 0 else 0}"', f'exif:GPSAltitude="{round(abs(alt) * 100)}/100"']
    return out


# characters XML 1.0 cannot hold at all, even escaped: C0 controls but tab, LF, CR; lone surrogates
# (a file name read with surrogateescape); U+FFFE and U+FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    """XML character data (xml.sax.saxutils would import urllib and http: 0.1 s at start-up). CR is
    a reference: a parser would otherwise turn CR LF into LF."""
    text = _NOT_XML.sub("", str(text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _attr(value: str) -> str:
    # in an attribute a parser turns raw tab and LF into spaces: references keep them
    return '"' + escape(value).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;") + '"'
