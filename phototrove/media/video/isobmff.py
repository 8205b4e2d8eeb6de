"""MP4, MOV, M4V, 3GP read natively: the movie box found and read; the main video track's frame size,
rotation, duration and codec into a VideoInfo; the movie's metadata items as catalog keys."""
from __future__ import annotations

from ..kinds import MediaError
from .boxes import _find_moov, _top_boxes, _Unseen
from .info import VideoInfo
from .metadata import _iso_meta
from .moov import _read_moov, _Track
from .span import _Span

FOURCC = {  # sample description format -> a common codec name
    "avc1": "h264", "avc2": "h264", "avc3": "h264", "avc4": "h264", "dva1": "h264", "dvav": "h264",
    "hvc1": "hevc", "hev1": "hevc", "dvh1": "hevc", "dvhe": "hevc", "mp4v": "mpeg4", "av01": "av1",
    "vp08": "vp8", "vp09": "vp9", "s263": "h263", "h263": "h263", "H263": "h263", "jpeg": "mjpeg",
    "mjpa": "mjpeg", "mjpb": "mjpeg", "MJPG": "mjpeg", "apch": "prores", "apcn": "prores", "apcs": "prores",
    "apco": "prores", "ap4h": "prores", "ap4x": "prores", "mp2v": "mpeg2video", "m2v1": "mpeg2video",
    "dvc": "dvvideo", "dvcp": "dvvideo", "dvpp": "dvvideo", "dv5n": "dvvideo", "dv5p": "dvvideo",
    "SVQ3": "svq3", "SVQ1": "svq1", "cvid": "cinepak",
}


def _probe_iso(span: _Span, fmt: str) -> VideoInfo:
    notes: list[str] = []
    try:
        moov = _find_moov(span, notes)
    except _Unseen as e:
        return VideoInfo(fmt, meta={"notes": [str(e)]})
    movie = _read_moov(moov, notes)
    video = _main_video_track(movie.tracks)
    if not movie.tracks:
        raise MediaError("corrupt", f"damaged {fmt.upper()}: its movie index (moov) holds no track")
    if video is None:
        kinds = ", ".join(sorted({t.handler.decode("latin-1") for t in movie.tracks})) or "none"
        raise MediaError("not-a-video", f"no video track in this {fmt.upper()} (tracks: {kinds})")
    info = VideoInfo(fmt, rotation=video.rotation, codec=_codec_name(video.fourcc))
    coded = video.coded or (round(video.width), round(video.height))
    shown = (round(video.width), round(video.height)) if video.width >= 1 and video.height >= 1 else coded
    if coded[0] > 0 and coded[1] > 0:
        info.stored_width, info.stored_height = coded
    if shown[0] > 0 and shown[1] > 0:
        info.width, info.height = shown[::-1] if video.rotation in (90, 270) else shown
    info.duration = movie.duration if movie.duration else video.duration
    if info.duration is None:
        notes.append("duration not recorded in the movie header")
    info.meta = _iso_meta(movie, notes)
    info.xmp = movie.xmp + _uuid_xmp(span)
    return info


XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
MAX_XMP = 8 << 20


def _uuid_xmp(span: _Span) -> list[bytes]:
    """XMP packets in top-level `uuid` boxes of Adobe's XMP UUID (where exiftool, Lightroom and
    Premiere put them), as far as the bytes given reach."""
    out = []
    for box in _top_boxes(span)[0]:
        if box.type == b"uuid" and box.header + 16 <= box.size <= MAX_XMP:
            body = span.get(box.at + box.header, box.size - box.header)
            if body is not None and bytes(body[:16]) == XMP_UUID:
                out.append(bytes(body[16:]))
    return out


def _main_video_track(tracks: list[_Track]) -> _Track | None:
    """The enabled video track with the most pixels (not a cover image or a depth track)."""
    videos = [t for t in tracks if t.handler == b"vide"]
    if not videos:
        return None
    return max(videos, key=lambda t: (t.enabled, (t.coded or (0, 0))[0] * (t.coded or (0, 0))[1],
                                      t.width * t.height))


def _codec_name(fourcc: str | None) -> str | None:
    if not fourcc:
        return None
    return FOURCC.get(fourcc, FOURCC.get(fourcc.strip(), fourcc.strip() or None))
