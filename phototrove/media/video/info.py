"""VideoInfo: what probe_video says of a video."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VideoInfo:
    format: str                         # 'mp4', 'mov', '3gp', 'm4v', 'mkv', 'webm', 'avi', 'wmv', 'mts', ...
    width: int | None = None            # the frame as displayed (rotation applied)
    height: int | None = None
    stored_width: int | None = None     # the frame as coded
    stored_height: int | None = None
    rotation: int = 0                   # 0, 90, 180, 270: clockwise, as players turn the frame
    duration: float | None = None       # seconds
    codec: str | None = None            # 'h264', 'hevc', 'mpeg4', 'vp8', 'av1', ...
    meta: dict = field(default_factory=dict)   # catalog keys (taken_local/utc_offset or taken_utc, lat,
    #                                            lon, alt, camera, make, title, description, keywords, notes)
    xmp: list[bytes] = field(default_factory=list)   # XMP packets (Adobe's uuid box, QuickTime's udta/XMP_)
