"""media/sniff.py against exiftool's own verdict (FileType) on real files of every kind: photos
written by Pillow and pillow-heif, RAWs from fixtures/media_fixtures.py, videos encoded by FFmpeg
(PyAV), and files that are not media."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import media_fixtures as mf  # noqa: E402

from phototrove.media.sniff import HEAD_BYTES, sniff  # noqa: E402

# exiftool's FileType -> what trove must call it
EXPECT = {"JPEG": "image", "PNG": "image", "GIF": "image", "WEBP": "image", "BMP": "image", "TIFF": "image",
          "HEIC": "image", "AVIF": "image", "NEF": "raw", "ARW": "raw", "PEF": "raw", "SRW": "raw", "DNG": "raw",
          "CR2": "raw", "ORF": "raw", "RAW": "raw", "RW2": "raw", "RAF": "raw", "CRX": "raw", "CR3": "raw",
          "MP4": "video", "MOV": "video", "3GP": "video", "M4V": "video", "MKV": "video", "WEBM": "video",
          "AVI": "video", "WMV": "video", "ASF": "video", "M2TS": "video", "M2T": "video", "MPEG": "video",
          "PDF": None, "TXT": None, "ZIP": None, "MP3": None, "WAV": None, "HTML": None, "JSON": None}


def photos() -> dict[str, bytes]:
    from PIL import Image

    im = Image.new("RGB", (40, 30), (200, 90, 20))
    out = {}
    for fmt in ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "AVIF"):
        buf = io.BytesIO()
        im.save(buf, fmt)
        out[f"photo_{fmt.lower()}"] = buf.getvalue()
    import pillow_heif

    buf = io.BytesIO()
    pillow_heif.from_pillow(im).save(buf, quality=50)
    out["photo_heic"] = buf.getvalue()
    return out


def others() -> dict[str, bytes]:
    import wave
    import zipfile

    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.txt", "x")
    w = io.BytesIO()
    with wave.open(w, "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(8000)
        wf.writeframes(b"\x00\x00" * 800)
    return {"doc_pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
            "notes_txt": "Einkaufsliste: Milch, Brot, Käse\n".encode(), "archive_zip": z.getvalue(),
            "sound_wav": w.getvalue(), "song_mp3": b"ID3\x03\x00\x00\x00\x00\x00\x0a" + bytes(10) + b"\xff\xfb\x90\x00" * 50,
            "page_html": b"<!DOCTYPE html><html><body>Takeout</body></html>\n",
            "order_json": b'{"orders": [{"id": 1}]}\n'}


def all_files() -> dict[str, bytes]:
    files = photos()
    files.update({f"raw_{ext[1:]}": mf.tiff_raw(ext, i) for i, ext in enumerate(mf.TIFF_RAWS)})
    files.update({"raw_raf": mf.raf(1), "raw_cr3": mf.cr3(2)})
    files.update({f"video_{ext[1:]}": mf.video(ext, i) for i, ext in enumerate(mf.VIDEO_FORMATS)})
    files.update(others())
    return files


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool (libimage-exiftool-perl) not installed")
def test_sniff_agrees_with_exiftool(tmp_path):
    """Each file is sniffed without its name; exiftool judges it with its name (NEF, ARW, PEF and SRW
    are TIFF by content alone, and exiftool tells them apart by extension)."""
    files = all_files()
    for name, data in files.items():
        (tmp_path / name.replace("_", ".", 1)).write_bytes(data)
    got = json.loads(subprocess.run(["exiftool", "-j", "-FileType", *sorted(map(str, tmp_path.iterdir()))],
                                    capture_output=True, text=True, check=False).stdout)
    verdict = {Path(r["SourceFile"]).name.replace(".", "_", 1): r.get("FileType") for r in got}
    wrong = []
    for name, data in files.items():
        ours = sniff(data[:HEAD_BYTES])
        theirs = verdict.get(name)
        if theirs not in EXPECT:
            wrong.append((name, theirs, ours, "exiftool type not in the table"))
        elif EXPECT[theirs] != ours[0]:
            wrong.append((name, theirs, ours))
    assert wrong == []
    assert len(verdict) == len(files)


def test_what_is_not_media_is_said_in_words():
    assert sniff(b"") == (None, "an empty file")
    assert sniff(b"%PDF-1.7\n")[1] == "a PDF document"
    assert sniff("Grüße aus Köln\n".encode()) == (None, "text")
    assert sniff(bytes(range(256)) * 4) == (None, "unrecognised content")
    assert sniff(b"BM" + bytes(20))[0] is None            # two letters alone make no bitmap
    assert sniff(b"\x47" + bytes(500))[0] is None          # nor does one MPEG-TS sync byte
