"""poster_frame: one representative frame of a video (about 1 s in, not black), decoded with PyAV,
downscaled and turned upright, for thumbnails and the model."""
from __future__ import annotations

import os
import time

from ..kinds import MediaError
from .other_containers import _duration, _video_stream

NEEDS_EXTRA = "decoding video needs phototrove[video] (PyAV): pip install 'phototrove[video]'"


# -- a representative frame ---------------------------------------------------------------------------
BLACK_LUMA = 16        # mean luma (0-255) under which a frame is taken for black (a fade-in, a lens cap)
LOOK_AHEAD = 3.0       # seconds of video searched past the seek point for a frame that is not black


def poster_frame(source, *, min_side: int = 224, time_limit: float = 20.0):
    """An upright RGB PIL image of a frame about 1 s in (10% in for a short clip, the first for one
    under a second), skipping black frames, downscaled by a whole factor while its short side stays
    >= min_side. `source`: a path or a seekable binary file. Raises MediaError."""
    try:
        import av
    except ImportError:
        raise MediaError("needs-extra", NEEDS_EXTRA) from None
    deadline = time.monotonic() + time_limit
    is_path = isinstance(source, (str, os.PathLike))
    try:
        if not is_path:
            source.seek(0)
        with av.open(os.fspath(source) if is_path else source, metadata_errors="replace",
                     timeout=(time_limit, time_limit)) as c:
            return _poster(c, min_side, deadline, time_limit)
    except MediaError:
        raise
    except (OSError, ValueError) as e:
        if is_path and isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise MediaError("unreadable", f"cannot open video: {e}") from None
        if not is_path and not isinstance(e, av.error.FFmpegError):   # a file object that cannot seek
            raise MediaError("unreadable", f"cannot read video: {type(e).__name__}: {e}"[:300]) from None
        raise MediaError("corrupt", f"cannot decode video: {type(e).__name__}: {e}"[:300]) from None
    except av.error.DecoderNotFoundError as e:
        raise MediaError("unsupported", f"no decoder for this video: {e}") from None
    except av.error.ExitError:   # the open/read timeout fired
        raise MediaError("timeout", f"decoding took over {time_limit:g} s: abandoned") from None
    except Exception as e:  # PyAV raises its FFmpegError subclasses (and builtins) on damaged files
        raise MediaError("corrupt", f"cannot decode video: {type(e).__name__}: {e}"[:300]) from None


def _poster(c, min_side: int, deadline: float, time_limit: float):
    s = _video_stream(c)
    if s is None:
        raise MediaError("corrupt", "no video stream")
    if s.codec_context is None:
        raise MediaError("unsupported", "no decoder for this video's codec")
    s.codec_context.thread_type = "AUTO"
    duration = _duration(c, s)
    target = 0.0 if not duration or duration < 1.0 else min(1.0, duration * 0.1)
    for attempt, start in enumerate((target, 0.0) if target else (0.0,)):   # a failed seek: from the start
        frame = _first_bright(c, s, start, attempt > 0, deadline, time_limit)
        if frame is not None:
            return _to_image(frame, min_side)
    raise MediaError("corrupt", "no frame of the video could be decoded")


def _first_bright(c, s, at: float, rewind: bool, deadline: float, time_limit: float):
    """Decode from `at` seconds: the first frame that is not black within LOOK_AHEAD seconds, else
    the brightest seen; None when nothing decodes."""
    import av

    origin = float(s.start_time * s.time_base) if s.start_time is not None and s.time_base else 0.0
    if at > 0 or rewind:
        try:
            c.seek(int((origin + at) / s.time_base), stream=s)   # to the key frame before
        except av.error.FFmpegError:
            return None
    best, best_luma, errors = None, -1.0, 0
    for packet in c.demux(s):
        if time.monotonic() > deadline:
            raise MediaError("timeout", f"decoding took over {time_limit:g} s: abandoned")
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:   # one damaged packet: the next key frame may decode
            errors += 1
            if errors > 50:
                break
            continue
        for frame in frames:
            t = frame.time - origin if frame.time is not None else at
            if t < at - 0.001:
                continue
            luma = _mean_luma(frame)
            if luma >= BLACK_LUMA:
                return frame
            if luma > best_luma:
                best, best_luma = frame, luma
            if t > at + LOOK_AHEAD:
                return best
    return best


def _mean_luma(frame) -> float:
    small = frame.reformat(width=32, height=max(1, round(32 * frame.height / max(1, frame.width))),
                           format="rgb24").to_ndarray()
    return float((small[..., 0] * 0.299 + small[..., 1] * 0.587 + small[..., 2] * 0.114).mean())


def _to_image(frame, min_side: int):
    from PIL import Image

    w, h = frame.width, frame.height
    scale = max(1, min(w, h) // max(1, min_side))
    image = frame.reformat(width=max(1, w // scale), height=max(1, h // scale), format="rgb24",
                           interpolation="AREA").to_image() if scale > 1 else frame.to_image()
    turn = (-int(getattr(frame, "rotation", 0) or 0)) % 360   # PyAV: counter-clockwise degrees
    method = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
              270: Image.Transpose.ROTATE_90}.get(round(turn / 90) % 4 * 90)
    image = image.convert("RGB")
    return image.transpose(method) if method is not None else image
