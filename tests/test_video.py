"""media/video/ on real videos encoded by FFmpeg (fixtures/video_fixtures.py), against exiftool's
reading of the same files; from a head and a tail as a large file is read; on cut and hostile
bytes (only MediaError, quickly); and poster frames (black lead-in skipped, rotation applied)."""
from __future__ import annotations

import functools
import io
import json
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
import media_fixtures as mf  # noqa: E402
import video_fixtures as vf  # noqa: E402

from phototrove.media.exif import camera_name  # noqa: E402
from phototrove.media.kinds import MediaError  # noqa: E402
from phototrove.media.video import VideoInfo, poster_frame, probe_video  # noqa: E402

av = pytest.importorskip("av")
needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed")

PARIS = "+48.8584+002.2945+035.000/"
# name -> (how to make it, what exiftool cannot tell: rotation of Matroska tracks, an MPEG-PS duration)
FIXTURES = {
    "ffmpeg.mp4": (lambda: vf.mp4(1, rotation=90, location=PARIS), {}),
    "ffmpeg-end.mp4": (lambda: vf.mp4(15, rotation=180, faststart=False), {}),
    "iphone.mov": (lambda: vf.mov(2, rotation=90, apple_date="2019-07-14T12:30:00+0200", location=PARIS,
                                  make="Apple", model="iPhone 12", faststart=False), {}),
    "iphone-fast.mov": (lambda: vf.mov(16, rotation=270, apple_date="2021-12-31T23:59:58-0500",
                                       location="+40.7128-074.0060+010.500/", make="Apple", model="iPhone 13"), {}),
    "android.mp4": (lambda: vf.mp4(3, rotation=270, style="android", location="+37.4220-122.0841/",
                                   make="Google", model="Pixel 7", faststart=False), {}),
    "camera.mov": (lambda: vf.mov(4, rotation=180, location=PARIS, make="Canon", model="Canon EOS R6"), {}),
    "nodate.mp4": (lambda: vf.mp4(17, creation_time=None, size=(96, 64)), {}),
    "clip.3gp": (lambda: vf.mp4(5, container="3gp", creation_time="2012-05-01T08:00:00Z"), {}),
    "clip.m4v": (lambda: vf.mp4(6, container="m4v", codec="mpeg4"), {}),
    "clip.mkv": (lambda: vf.mkv(7, rotation=90, location=PARIS), {"rotation": 90}),
    "clip.webm": (lambda: vf.webm(8, rotation=270, seconds=2), {"rotation": 270}),
    "camera.avi": (lambda: vf.avi(9), {}),
    "clip.wmv": (lambda: vf.wmv(10, seconds=1.5), {}),
    "nodate.wmv": (lambda: vf.wmv(18, creation_time=None), {}),   # its creation time is 0: not a date
    "clip.mts": (lambda: vf.mts(11), {}),
    "clip.m2ts": (lambda: vf.m2ts(13), {}),
    "clip.mpg": (lambda: vf.mpg(14), {"duration": 1.0}),
    "plain.mp4": (lambda: mf.video(".mp4", 12), {}),
}
ISO = {"mp4", "mov", "3gp", "m4v"}
FOURCC = {"avc1": "h264", "hev1": "hevc", "hvc1": "hevc", "mp4v": "mpeg4", "av01": "av1", "vp09": "vp9",
          "s263": "h263", "jpeg": "mjpeg", "apch": "prores", "apcn": "prores",
          "V_MPEG4/ISO/AVC": "h264", "V_VP8": "vp8", "FMP4": "mpeg4", "wmv2": "wmv2"}
TAGS = ["-Duration", "-ImageWidth", "-ImageHeight", "-Rotation", "-CreateDate", "-CreationDate",
        "-DateTimeOriginal", "-GPSCoordinates", "-GPSLatitude", "-GPSLongitude", "-GPSAltitude", "-Location",
        "-Make", "-Model", "-AndroidManufacturer", "-AndroidModel", "-CompressorID", "-CodecID", "-VideoCodec",
        "-VideoCodecName", "-Preroll", "-FileType"]


@functools.lru_cache(maxsize=None)
def fixture(name: str) -> bytes:
    return FIXTURES[name][0]()


def exiftool(*paths: Path) -> list[dict]:
    out = subprocess.run(["exiftool", "-j", "-n", *TAGS, *map(str, paths)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


@pytest.fixture(scope="module")
def exif_of(tmp_path_factory) -> dict[str, dict]:
    """exiftool's reading of every fixture, written to files (one exiftool run)."""
    folder = tmp_path_factory.mktemp("videos")
    paths = []
    for name in FIXTURES:
        (folder / name).write_bytes(fixture(name))
        paths.append(folder / name)
    return {Path(e["SourceFile"]).name: e for e in exiftool(*paths)}


def test_fixtures_are_small_real_and_deterministic():
    for name in FIXTURES:
        data = fixture(name)
        assert 500 < len(data) < 300_000, name
        assert FIXTURES[name][0]() == data, f"{name} differs between two runs"


# -- what exiftool says, in the catalog's words ---------------------------------------------------
def _seconds(e: dict) -> float | None:
    d = e.get("Duration")
    if isinstance(d, str):   # Matroska: "00:00:01.000000000"
        h, m, s = d.split(":")
        d = int(h) * 3600 + int(m) * 60 + float(s)
    if d is not None and "Preroll" in e:   # ASF: exiftool's play duration includes the preroll
        d -= e["Preroll"] / 1000
    return d


def _dates(e: dict) -> dict:
    """exiftool's dates as catalog keys: a wall clock with its offset, or a UTC instant."""
    def iso(text: str) -> str:
        return text[:10].replace(":", "-") + "T" + text[11:19]

    keys = e.get("CreationDate")        # Apple's, with its offset; ASF's, UTC ('Z')
    if isinstance(keys, str) and re.search(r"[+-]\d\d:\d\d$", keys):
        return {"taken_local": iso(keys), "utc_offset": keys[-6:]}
    for tag in ("CreateDate", "DateTimeOriginal", "CreationDate"):
        v = e.get(tag)
        if not isinstance(v, str) or v.startswith("0000"):
            continue
        if tag == "DateTimeOriginal" and not v.endswith("Z"):   # an AVI's IDIT: the camera's clock
            return {"taken_local": iso(v)}
        return {"taken_utc": iso(v) + "Z"}     # QuickTime CreateDate is UTC by the spec
    return {}


def _place(e: dict) -> tuple[float, float, float | None] | None:
    if "GPSCoordinates" in e:
        parts = [float(v) for v in str(e["GPSCoordinates"]).split()]
        return parts[0], parts[1], parts[2] if len(parts) > 2 else None
    if "GPSLatitude" in e:
        return float(e["GPSLatitude"]), float(e["GPSLongitude"]), e.get("GPSAltitude")
    if isinstance(e.get("Location"), str):   # Matroska keeps the ISO 6709 text
        m = re.fullmatch(r"([+-][\d.]+)([+-][\d.]+)([+-][\d.]+)?/?", e["Location"])
        return float(m.group(1)), float(m.group(2)), float(m.group(3)) if m.group(3) else None
    return None


@needs_exiftool
@pytest.mark.parametrize("name", list(FIXTURES))
def test_probe_agrees_with_exiftool(name, exif_of):
    e, truth = exif_of[name], FIXTURES[name][1]
    info = probe_video(fixture(name), name=name)
    assert isinstance(info, VideoInfo)
    assert info.format == name.rsplit(".", 1)[1]
    # duration: exiftool times an MPEG-TS from its first to its last frame's start, FFmpeg to its end
    expected = truth.get("duration", _seconds(e))
    tolerance = 1 / vf.FPS + 0.001 if e["FileType"] in ("M2TS", "M2T") else 0.05
    assert info.duration == pytest.approx(expected, abs=tolerance)
    # size: exiftool gives the frame before rotation; the displayed one turns with it
    rotation = truth.get("rotation", e.get("Rotation", 0))
    assert info.rotation == rotation
    assert (info.stored_width, info.stored_height) == (e["ImageWidth"], e["ImageHeight"])
    turned = rotation in (90, 270)
    assert (info.width, info.height) == ((e["ImageHeight"], e["ImageWidth"]) if turned
                                         else (e["ImageWidth"], e["ImageHeight"]))
    # codec
    fourcc = e.get("CompressorID") or e.get("CodecID") or e.get("VideoCodec") or e.get("VideoCodecName")
    if fourcc:
        assert info.codec == FOURCC[fourcc]
    # dates, place, camera
    meta = dict(info.meta)
    assert "notes" not in meta, meta.get("notes")
    assert {k: meta[k] for k in ("taken_local", "utc_offset", "taken_utc") if k in meta} == _dates(e)
    place = _place(e)
    if place is None:
        assert "lat" not in meta and "lon" not in meta
    else:
        assert (meta["lat"], meta["lon"]) == (pytest.approx(place[0], abs=1e-4), pytest.approx(place[1], abs=1e-4))
        assert meta.get("alt") == (None if place[2] is None else pytest.approx(place[2], abs=0.01))
    make = e.get("Make") or e.get("AndroidManufacturer")
    model = e.get("Model") or e.get("AndroidModel")
    assert meta.get("make") == make
    assert meta.get("camera") == camera_name(make, model)


@needs_exiftool
def test_xmp_and_text_tags_people_write_into_videos(tmp_path):
    """Lightroom/digiKam XMP (a top-level uuid box), Apple's Keys and 3GPP/QuickTime user data, as
    exiftool writes them: read into title, description, keywords, rating and people."""
    from phototrove.media.probe import probe_media

    def tagged(name, data, *args):
        path = tmp_path / name
        path.write_bytes(data)
        subprocess.run(["exiftool", "-q", "-q", "-overwrite_original", *args, str(path)], check=True)
        return probe_media("video", path.read_bytes(), name=name)

    p = tagged("lr.mp4", vf.mp4(41), "-XMP-dc:Subject=beach", "-XMP-dc:Subject=dog", "-XMP-dc:Title=Rex",
               "-XMP-xmp:Rating=4", "-XMP-iptcExt:PersonInImage=Erik")
    assert (p.xmp["keywords"], p.xmp["title"], p.xmp["rating"]) == (["beach", "dog"], "Rex", 4)
    assert p.xmp["people"] == ["Erik"]
    p = tagged("keys.mov", vf.mov(42, apple_date="2022-07-07T17:07:07+0200"), "-Keys:Title=Keys title",
               "-Keys:Keywords=alps", "-Keys:Description=Keys text")
    assert (p.exif["title"], p.exif["description"], p.exif["keywords"]) == ("Keys title", "Keys text", ["alps"])
    p = tagged("udta.mov", vf.mov(43), "-UserData:Title=QuickTime title", "-UserData:Description=3GPP text")
    assert (p.exif["title"], p.exif["description"]) == ("QuickTime title", "3GPP text")


def test_apple_wall_clock_wins_over_the_utc_movie_time():
    info = probe_video(fixture("iphone.mov"))
    assert (info.meta["taken_local"], info.meta["utc_offset"]) == ("2019-07-14T12:30:00", "+02:00")
    assert "taken_utc" not in info.meta     # the catalog derives it from the wall clock and its offset
    assert info.meta["camera"] == "Apple iPhone 12"


@needs_exiftool
@pytest.mark.parametrize("codec, container", [("libx264", "mp4"), ("libx265", "mp4"), ("mpeg4", "mp4"),
                                              ("libsvtav1", "mp4"), ("libvpx-vp9", "mp4"), ("h263", "3gp"),
                                              ("mjpeg", "mov"), ("prores_ks", "mov")])
def test_codec_from_the_sample_description(codec, container, tmp_path):
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec} encoder")
    data = vf.mp4(1, codec=codec, container=container, size=(128, 96) if codec == "h263" else (64, 48))
    path = tmp_path / f"clip.{container}"
    path.write_bytes(data)
    fourcc = exiftool(path)[0]["CompressorID"]
    assert probe_video(data).codec == FOURCC[fourcc]
    with av.open(str(path)) as c:   # and it is the name FFmpeg gives the codec (av1's decoder is libdav1d)
        assert FOURCC[fourcc] == {"libdav1d": "av1"}.get(c.streams.video[0].codec_context.name,
                                                         c.streams.video[0].codec_context.name)


# -- from a head and a tail, as a large file is read -----------------------------------------------
def _head_tail(data: bytes, head: int, tail: int) -> VideoInfo:
    assert head + tail < len(data), "the head and the tail must not meet"
    return probe_video(data[:head], size=len(data), tail=data[-tail:])


def test_moov_after_a_large_mdat_found_in_the_tail():
    data = vf.mp4(20, rotation=90, faststart=False, noise=True, seconds=2, size=(128, 96), location=PARIS)
    assert data.find(b"moov") > 65536, "moov must lie beyond the head"
    full = probe_video(data)
    assert full.duration == pytest.approx(2.0) and full.meta.get("lat")
    assert len(data) < 300_000 and _head_tail(data, 65536, 65536) == full
    assert probe_video(memoryview(data)[:70000], size=len(data), tail=data[-70000:]) == full
    assert probe_video(data[:100_000], size=len(data), tail=data[50_000:]) == full   # they overlap
    fast = vf.mp4(20, rotation=90, faststart=True, noise=True, seconds=2, size=(128, 96), location=PARIS)
    assert fast.find(b"moov") < 100
    assert _head_tail(fast, 65536, 65536) == full


def _mvhd_only_moov(duration_ms: int) -> bytes:
    mvhd = vf.box(b"mvhd", struct.pack(">4xIIII", 0, 0, 1000, duration_ms) + bytes(80))
    return vf.box(b"moov", mvhd)


def test_the_box_walk_wins_over_a_moov_named_in_the_media_data():
    """The moov is where the top-level sizes say: bytes spelling 'moov' inside mdat are not it."""
    data = bytearray(vf.mp4(20, faststart=False, noise=True, seconds=2, size=(128, 96)))
    decoy = _mvhd_only_moov(9999)
    at = data.find(b"moov") - 4 - 1000               # inside mdat, within the tail read below
    data[at:at + len(decoy)] = decoy
    assert _head_tail(bytes(data), 65536, 65536).duration == pytest.approx(2.0)


def test_moov_found_by_name_when_the_walk_is_blocked():
    """A box boundary in the unread middle stops the walk: a whole moov in the tail is still taken."""
    data = vf.mp4(20, faststart=False, noise=True, seconds=2, size=(128, 96))
    ftyp_end = struct.unpack_from(">I", data, 0)[0]
    padded = data[:ftyp_end] + vf.box(b"free", bytes(100_000)) + vf.box(b"free", b"") + data[ftyp_end:]
    info = _head_tail(padded, 65536, 65536)
    assert info.duration == pytest.approx(2.0) and info.width == 128


def _v1(typ: bytes, payload: bytes) -> bytes:
    """A version-0 mvhd/tkhd/mdhd payload as version 1 (64-bit times and duration)."""
    flags, rest = payload[1:4], payload[4:]
    if typ in (b"mvhd", b"mdhd"):        # created, modified, timescale, duration
        c, m, scale, d = struct.unpack_from(">IIII", rest)
        return b"\x01" + flags + struct.pack(">QQIQ", c, m, scale, d) + rest[16:]
    c, m, track, reserved, d = struct.unpack_from(">IIIII", rest)   # tkhd: ..., track id, reserved, duration
    return b"\x01" + flags + struct.pack(">QQIIQ", c, m, track, reserved, d) + rest[20:]


def _upgraded(data: bytes) -> bytes:
    """The same movie with 64-bit box fields: version-1 headers and an mdat with a 64-bit size
    (its media 8 bytes further on: the chunk offsets follow)."""
    def walk(typ: bytes, payload: bytes) -> bytes:
        if typ in (b"mvhd", b"tkhd", b"mdhd"):
            return _v1(typ, payload)
        if typ in (b"moov", b"trak", b"mdia"):
            return b"".join(vf.box(t, walk(t, p)) for t, p in vf.children(payload))
        return vf._shift_offsets(typ, payload, 8)

    out = b""
    for typ, at, n in vf.top_boxes(data):
        if typ == b"mdat":
            out += struct.pack(">I4sQ", 1, b"mdat", n + 8) + data[at + 8:at + n]
        elif typ == b"moov":
            out += vf.box(b"moov", walk(b"moov", data[at + 8:at + n]))
        else:
            out += data[at:at + n]
    return out


@needs_exiftool
@pytest.mark.parametrize("name", ["iphone.mov", "ffmpeg-end.mp4"])   # moov after mdat: growing mdat's
def test_version_1_headers_and_64_bit_sizes(name, tmp_path):        # header moves the media
    data = fixture(name)
    big = _upgraded(data)
    assert big.count(b"mvhd\x01") == 1 and big.count(b"tkhd\x01") == 1
    path = tmp_path / name
    path.write_bytes(big)
    e = exiftool(path)[0]
    assert e["Duration"] == pytest.approx(1.0) and e["CreateDate"] == "2019:07:14 10:30:00"
    with av.open(str(path)) as c:          # still a real movie: every frame decodes
        assert sum(1 for _ in c.decode(video=0)) == 10
    assert probe_video(big) == probe_video(data)
    moov_at = big.rfind(b"moov") - 4         # the 64-bit mdat size, read in the head, leads to it
    assert _head_tail(big, 64, len(big) - moov_at) == probe_video(data)


def test_moov_beyond_what_was_read_is_said():
    data = vf.mp4(20, faststart=False, noise=True, seconds=2, size=(128, 96))
    info = _head_tail(data, 4096, 64)     # the tail is shorter than the moov box
    assert info.duration is None and info.width is None
    assert "moov box not within" in info.meta["notes"][0]


@pytest.mark.parametrize("make, head, tail", [
    (lambda: vf.mkv(21, rotation=90, noise=True, seconds=2, size=(128, 96)), 65536, 65536),
    (lambda: vf.avi(22, noise=True, seconds=3, size=(160, 120)), 8192, 8192),
    (lambda: vf.wmv(23, noise=True, seconds=3, size=(160, 120)), 8192, 8192),
    (lambda: vf.mts(24, seconds=4, size=(320, 240), noise=True, bit_rate=500_000), 16384, 65536),
])
def test_other_containers_from_head_and_tail(make, head, tail):
    data = make()
    assert len(data) < 300_000
    full = probe_video(data)
    assert full.duration and full.width and "notes" not in full.meta
    assert _head_tail(data, head, tail) == full


def test_mpeg_stream_duration_unknown_when_the_tail_is_too_short():
    data = vf.mts(24, seconds=4, size=(320, 240), noise=True, bit_rate=500_000)
    info = _head_tail(data, 16384, 1000)
    assert info.duration is None and info.width == 320
    assert "duration unknown" in info.meta["notes"][0]


# -- cut and hostile bytes ------------------------------------------------------------------------
def _probe_or_error(data: bytes, name: str = "x.mp4") -> VideoInfo | MediaError:
    start = time.monotonic()
    try:
        out = probe_video(data, name=name)
    except MediaError as e:
        out = e
    assert time.monotonic() - start < 2, "probing must be quick whatever the bytes"
    return out


@pytest.mark.parametrize("name", list(FIXTURES))
def test_cut_files_raise_media_error(name):
    data = fixture(name)
    fmt = name.rsplit(".", 1)[1]
    for n in (1, 7, 8, 12, 40, 100, 500, len(data) // 3, len(data) // 2, len(data) - 100, len(data) - 1):
        out = _probe_or_error(data[:n], name)
        if fmt in ISO | {"mkv", "webm", "avi", "wmv"}:   # their headers say how long the file is
            assert isinstance(out, MediaError) and out.kind in ("truncated", "corrupt"), (name, n, out)
        else:    # an MPEG stream may end anywhere: what is there is read, or an error said
            assert isinstance(out, (VideoInfo, MediaError)), (name, n, out)
    iso_cut = _probe_or_error(fixture("ffmpeg-end.mp4")[:-1])
    assert iso_cut.kind == "truncated" and "moov" in str(iso_cut)


def test_cut_file_seen_from_head_and_tail_is_truncated():
    data = vf.mp4(20, faststart=False, noise=True, seconds=2, size=(128, 96))
    cut = data[:len(data) - 5000]           # the moov box lost with the end of the file
    with pytest.raises(MediaError) as e:
        probe_video(cut[:65536], size=len(cut), tail=cut[-65536:])
    assert e.value.kind == "truncated"


def _ftyp(brand: bytes = b"isom") -> bytes:
    return struct.pack(">I4s4sI4s", 20, b"ftyp", brand, 0, brand)


@pytest.mark.parametrize("data, kind", [
    (b"\x00", "truncated"),
    (b"", "empty"),
    (_ftyp() + struct.pack(">I4s", 1 << 30, b"mdat") + bytes(1000), "truncated"),     # mdat past the end
    (_ftyp() + struct.pack(">IIQ", 1, 0x6D646174, 1 << 40) + bytes(1000), "truncated"),  # 64-bit size
    (_ftyp() + struct.pack(">I4s", 3, b"free") + bytes(100), "corrupt"),            # a box of size 3
    (_ftyp() + struct.pack(">I4s", 0, b"mdat") + bytes(1000), "truncated"),         # never finished
    (_ftyp() + struct.pack(">I4s", 8, b"free") * 20000, "truncated"),                # many boxes, no moov
    (_ftyp(b"heic"), "not-a-video"),
    (_ftyp(b"avif"), "not-a-video"),
    (_ftyp(b"M4A "), "not-a-video"),
    (mf.cr3(1), "not-a-video"),
    (b"hello, I am a text file, not a video\n" * 3, "not-a-video"),
    (b"\x1a\x45\xdf\xa3" + bytes(60), "corrupt"),                                    # EBML magic, nothing else
    (b"RIFF\x10\x00\x00\x00AVI LIST", "truncated"),
])
def test_hostile_bytes(data, kind):
    out = _probe_or_error(data)
    assert isinstance(out, MediaError) and out.kind == kind, out


def test_a_jpeg_named_mp4_is_not_a_video():
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buf, "JPEG")
    out = _probe_or_error(buf.getvalue(), "IMG_0001.mp4")
    assert out.kind == "not-a-video" and "JPEG" in str(out)


def test_audio_only_mp4_is_not_a_video():
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 8000, 0
        for p in [*s.encode(frame), *s.encode()]:
            c.mux(p)
    out = _probe_or_error(buf.getvalue())
    assert out.kind == "not-a-video" and "soun" in str(out)


def _moov_child(data: bytes, name: bytes) -> int:
    """Offset of a box inside moov (found by name: the fixtures are tiny and regular)."""
    at = data.find(name)
    assert at > 4
    return at - 4


def test_damaged_boxes_inside_moov_are_notes():
    data = bytearray(fixture("iphone.mov"))
    at = _moov_child(data, b"keys")
    data[at:at + 4] = struct.pack(">I", 3)          # a metadata box of size 3
    info = probe_video(bytes(data))
    assert info.duration == pytest.approx(1.0) and info.rotation == 90
    assert any("damaged" in n for n in info.meta["notes"])
    data = bytearray(fixture("iphone.mov"))
    at = _moov_child(data, b"stsd")
    data[at:at + 4] = struct.pack(">I", 0xFFFFFFF0)   # past its parent's end
    info = probe_video(bytes(data))
    assert info.codec is None and info.rotation == 90 and info.meta["notes"]


def test_implausible_values_are_dropped_with_a_note():
    data = bytearray(fixture("iphone.mov"))
    for old, new in ((b"2019-07-14T12:30:00+0200", b"2019-13-45T99:30:00+0200"),
                     (b"+48.8584+002.2945+035.000/", b"+98.8584+002.2945+035.000/")):
        at = data.find(old)
        data[at:at + len(old)] = new
    info = probe_video(bytes(data))
    meta = info.meta
    assert meta["taken_utc"] == "2019-07-14T10:30:00Z"   # the movie header's time instead
    assert "lat" not in meta and "taken_local" not in meta
    assert any("not a date" in n for n in meta["notes"]) and any("ISO 6709" in n for n in meta["notes"])
    at = data.find(b"mvhd") + 8                          # creation time: 1904 + 10 s
    data[at:at + 4] = struct.pack(">I", 10)
    meta = probe_video(bytes(data)).meta
    assert "taken_utc" not in meta and any("not a plausible date" in n for n in meta["notes"])


def test_fuzzed_moov_only_media_errors():
    rng = np.random.default_rng(7)
    for name in ("iphone.mov", "android.mp4", "ffmpeg.mp4"):
        data = fixture(name)
        moov = data.find(b"moov") - 4
        for _ in range(150):
            fuzzed = bytearray(data)
            for at in rng.integers(moov, len(data) if moov > 100 else 2000, 4):
                fuzzed[at] = int(rng.integers(0, 256))
            _probe_or_error(bytes(fuzzed))   # anything but MediaError fails the test


def test_fuzzed_other_containers_only_media_errors():
    rng = np.random.default_rng(8)
    for name in ("clip.mkv", "camera.avi", "clip.wmv", "clip.mts", "clip.webm"):
        data = fixture(name)
        for _ in range(40):
            fuzzed = bytearray(data)
            for at in rng.integers(0, min(len(data), 600), 3):
                fuzzed[at] = int(rng.integers(0, 256))
            _probe_or_error(bytes(fuzzed), name)


def test_without_pyav_other_containers_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)     # `import av` raises ImportError
    info = probe_video(fixture("clip.mkv"))
    assert info.format == "mkv" and info.duration is None
    assert "phototrove[video]" in info.meta["notes"][0]
    assert probe_video(fixture("iphone.mov")).duration == pytest.approx(1.0)   # native: no PyAV needed
    with pytest.raises(MediaError) as e:
        poster_frame(io.BytesIO(fixture("ffmpeg.mp4")))
    assert e.value.kind == "needs-extra" and "phototrove[video]" in str(e.value)


# -- poster frames --------------------------------------------------------------------------------
def _luma(image) -> float:
    return float(np.asarray(image.convert("L"), np.float64).mean())


def test_poster_skips_a_black_lead_in():
    data = vf.mp4(30, seconds=4, black_first_frames=15)     # black until 1.5 s; the seek lands at 0.4 s
    with av.open(io.BytesIO(data)) as c:
        first = next(c.decode(video=0))
        assert _luma(first.to_image()) < 5
    image = poster_frame(io.BytesIO(data))
    assert image.mode == "RGB" and image.size == (64, 48)
    assert _luma(image) > 40


def test_poster_of_an_all_black_clip_is_its_brightest_frame():
    image = poster_frame(io.BytesIO(vf.mp4(31, seconds=1, black_first_frames=10)))
    assert image.size == (64, 48) and _luma(image) < 16


@pytest.mark.parametrize("name, rotation", [("ffmpeg.mp4", 90), ("android.mp4", 270), ("camera.mov", 180),
                                            ("clip.mkv", 90), ("clip.webm", 270), ("camera.avi", 0)])
def test_poster_is_upright(name, rotation, tmp_path):
    """The fixtures' white block is top-left as stored: players turn it with the frame."""
    path = tmp_path / name
    path.write_bytes(fixture(name))
    image = poster_frame(str(path))
    w, h = image.size
    assert (w < h) == (rotation in (90, 270))
    corners = {"top-left": (0, 0), "top-right": (w - 8, 0), "bottom-right": (w - 8, h - 8), "bottom-left": (0, h - 8)}
    lumas = {k: _luma(image.crop((x, y, x + 8, y + 8))) for k, (x, y) in corners.items()}
    white = {0: "top-left", 90: "top-right", 180: "bottom-right", 270: "bottom-left"}[rotation]
    assert max(lumas, key=lumas.get) == white, lumas


def test_poster_from_a_path_and_a_file_object_agree(tmp_path):
    data = fixture("iphone.mov")
    path = tmp_path / "clip.mov"
    path.write_bytes(data)
    a = poster_frame(str(path))
    with open(path, "rb") as f:
        f.seek(100)              # wherever the caller left it
        b = poster_frame(f)
    c = poster_frame(path)       # a Path too
    assert a.size == b.size == c.size == (48, 64)
    assert np.array_equal(np.asarray(a), np.asarray(b)) and np.array_equal(np.asarray(a), np.asarray(c))


def test_poster_of_a_large_frame_is_downscaled():
    data = vf.mp4(32, size=(640, 480), seconds=1.5)
    assert len(data) < 300_000
    image = poster_frame(io.BytesIO(data), min_side=224)
    assert image.size == (320, 240)     # a whole factor: the short side stays >= min_side
    assert poster_frame(io.BytesIO(data), min_side=480).size == (640, 480)


@pytest.mark.parametrize("damage", ["cut-before-moov", "zeros", "no-video", "text"])
def test_poster_of_a_damaged_file_raises_media_error(damage, tmp_path):
    data = fixture("ffmpeg-end.mp4")
    bad = {"cut-before-moov": data[:len(data) - 600], "zeros": bytes(5000),
           "no-video": _ftyp() + struct.pack(">I4s", 8, b"free"), "text": b"not a video\n" * 100}[damage]
    with pytest.raises(MediaError) as e:
        poster_frame(io.BytesIO(bad))
    assert e.value.kind in ("corrupt", "unsupported", "truncated")
    with pytest.raises(MediaError) as e:
        poster_frame(str(tmp_path / "missing.mp4"))
    assert e.value.kind == "unreadable"


def test_poster_time_limit():
    with pytest.raises(MediaError) as e:
        poster_frame(io.BytesIO(fixture("ffmpeg.mp4")), time_limit=0)
    assert e.value.kind == "timeout"
