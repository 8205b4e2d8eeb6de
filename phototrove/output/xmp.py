"""Writing XMP: a packet with what trove knows of a photo (keywords and their hierarchy, people,
caption, title, rating, colour label, date, original file name), well-formed whatever the text holds."""
from __future__ import annotations

import re

from ..media.exif import offset_text, utc_offset
from ..media.jpeg import MAX_SEGMENT, XMP_HEADER, JpegError


def build_xmp(meta: dict) -> bytes:
    """An XMP packet with what Lightroom knew: keywords (flat, and as Lightroom's hierarchy from
    keyword_paths 'Places|France|Paris'), people, caption, title, rating (xmp:Rating, -1 when
    rejected), colour label, date, original file name."""
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
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        f"{attrs}>\n" + "\n".join(blocks) + "\n</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    data = packet.encode("utf-8")
    if len(data) + len(XMP_HEADER) > MAX_SEGMENT:  # absurd keyword lists: keep what fits
        raise JpegError("XMP packet larger than one JPEG segment")
    return data


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
