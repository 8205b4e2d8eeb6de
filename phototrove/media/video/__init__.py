"""Videos: what a video file is (container, frame size as shown, rotation, duration, codec) and what
it says of itself (capture time, place, camera), read from its headers without decoding; and one
representative frame, decoded with PyAV, for thumbnails and the model.

ISO-BMFF (MP4, MOV, M4V, 3GP) is read natively: `moov` (its movie header, each video track's
header, handler and sample description, the QuickTime `udta` items and Apple's `keys`+`ilst`
metadata), wherever it lies: at the start (a "fast start" file) or after the media data at the end,
found from the head and the tail of a large file by walking the top-level boxes by their sizes.
Other containers (Matroska/WebM, AVI, ASF/WMV, MPEG-TS/PS, FLV) are opened with PyAV (the optional
`video` extra), on the same head and tail, with a few native checks (does the file hold all the
bytes its header declares; a Matroska track's rotation, which PyAV only shows on decoded frames).

Nothing a file contains makes probe_video raise anything but MediaError: a value that does not

The package, by concern: probe (probe_video: which container a file is, handed to its reader), span
(the bytes known of a file), info (VideoInfo), boxes, moov and isobmff (ISO-BMFF read natively),
metadata (what a file says of itself, as catalog keys), native_checks and other_containers (the
other containers, with PyAV), and poster (poster_frame).
"""
from __future__ import annotations

from .info import VideoInfo
from .poster import poster_frame
from .probe import probe_video

__all__ = ["VideoInfo", "poster_frame", "probe_video"]
