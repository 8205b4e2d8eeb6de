"""Writing XMP: a packet with what trove knows of a photo (keywords, people, caption, title, rating,
colour label, date, original file name)."""
from __future__ import annotations

from ..media.jpeg import MAX_SEGMENT, XMP_HEADER, JpegError

def build_xmp(meta: dict) -> bytes:
    """An XMP packet with what Lightroom knew: keywords, caption, title, rating, colour label,
    pick, date, original file name."""
    props, blocks = [], []
    if isinstance(meta.get("rating"), int):
        rating = -1 if meta.get("pick") == -1 else meta["rating"]  # XMP rating -1 = rejected
        props.append(f'xmp:Rating="{rating}"')
    elif meta.get("pick") == -1:
        props.append('xmp:Rating="-1"')
    if meta.get("color_label"):
        props.append(f'xmp:Label={_attr(meta["color_label"])}')
    local = meta.get("taken_local")
    if local:
        props.append(f'photoshop:DateCreated={_attr(local + (meta.get("utc_offset") or ""))}')
    if meta.get("original_name"):
        props.append(f'xmpMM:PreservedFileName={_attr(meta["original_name"])}')
    if meta.get("keywords"):
        items = "".join(f"<rdf:li>{escape(k)}</rdf:li>" for k in meta["keywords"])
        blocks.append(f"<dc:subject><rdf:Bag>{items}</rdf:Bag></dc:subject>")
    if meta.get("people"):
        items = "".join(f"<rdf:li>{escape(k)}</rdf:li>" for k in meta["people"])
        blocks.append(f"<Iptc4xmpExt:PersonInImage><rdf:Bag>{items}</rdf:Bag></Iptc4xmpExt:PersonInImage>")
    for key, tag in (("description", "dc:description"), ("title", "dc:title")):
        if meta.get(key):
            blocks.append(f'<{tag}><rdf:Alt><rdf:li xml:lang="x-default">{escape(meta[key])}</rdf:li>'
                          f"</rdf:Alt></{tag}>")
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
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        f"{attrs}>\n" + "\n".join(blocks) + "\n</rdf:Description>\n</rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    data = packet.encode("utf-8")
    if len(data) + len(XMP_HEADER) > MAX_SEGMENT:  # absurd keyword lists: keep what fits
        raise JpegError("XMP packet larger than one JPEG segment")
    return data


def escape(text: str) -> str:
    """XML character data (xml.sax.saxutils would import urllib and http: 0.1 s at start-up)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return '"' + escape(value).replace('"', "&quot;") + '"'
