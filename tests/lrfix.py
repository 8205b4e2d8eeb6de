"""Shared helpers for the Lightroom tests: the fixture generator and read-back of written JPEGs."""
from __future__ import annotations

import io
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

import lightroom  # noqa: E402  (fixtures/lightroom.py: the generator)

from phototrove.media.jpeg import XMP_HEADER, split_header  # noqa: E402

NS = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "dc": "http://purl.org/dc/elements/1.1/",
      "xmp": "http://ns.adobe.com/xap/1.0/", "x": "adobe:ns:meta/",
      "Iptc4xmpExt": "http://iptc.org/std/Iptc4xmpExt/2008-02-29/", "xmpMM": "http://ns.adobe.com/xap/1.0/mm/"}


def xmp_of(jpeg: bytes) -> dict:
    """Keywords, people, description, title, rating, label and preserved name from the XMP segment."""
    segs = [p for m, p in split_header(jpeg)[0] if m == 0xE1 and p.startswith(XMP_HEADER)]
    assert len(segs) == 1
    root = ET.fromstring(segs[0][len(XMP_HEADER):].decode("utf-8").split("?>", 1)[1].rsplit("<?xpacket", 1)[0])
    desc = root.find(".//rdf:Description", NS)
    out = {"keywords": [li.text for li in desc.findall("dc:subject/rdf:Bag/rdf:li", NS)],
           "people": [li.text for li in desc.findall("Iptc4xmpExt:PersonInImage/rdf:Bag/rdf:li", NS)]}
    for key, tag in (("description", "dc:description"), ("title", "dc:title")):
        li = desc.find(f"{tag}/rdf:Alt/rdf:li", NS)
        out[key] = li.text if li is not None else None
    for key, attr in (("rating", "xmp:Rating"), ("label", "xmp:Label"), ("name", "xmpMM:PreservedFileName")):
        pfx, local = attr.split(":")
        out[key] = desc.get(f"{{{NS[pfx]}}}{local}")
    return out


def exif_of(jpeg: bytes) -> dict:
    import exifread

    return {k: str(v) for k, v in exifread.process_file(io.BytesIO(jpeg), details=False).items()}


__all__ = ["lightroom", "xmp_of", "exif_of"]
