"""Camera RAW files without demosaicing: the format, what the camera recorded (EXIF), the image
size, and where the embedded JPEG previews lie, all read from the file's structure.

A RAW's sensor data needs demosaicing; its previews (JPEGs the camera wrote beside it, often full
size) are what trove shows and embeds. Where they are:
- TIFF-structured RAWs (DNG, CR2, NEF, NRW, ARW, SR2, SRF, ORF, RW2, PEF, SRW, 3FR, IIQ, ERF, KDC,
  MOS, DCR, ...): any IFD (the IFD0 chain and SubIFDs) holding a JPEG through
  JPEGInterchangeFormat (0x0201/0x0202) or as its single strip (compression 6/7); Nikon's
  PreviewIFD and Olympus' CameraSettings in the maker note; Panasonic's JpgFromRaw (0x002E).
- CR3 (ISO-BMFF): metadata in the CMT1..CMT4 boxes; previews PRVW, THMB and the first track's
  full-size JPEG.
- RAF: one embedded JPEG, which also carries the EXIF; the image size from the RAF directory.
- CRW (CIFF): camera, date, size, orientation and its JpgFromRaw; MRW: EXIF and size; X3F: the
  format alone.

Previews are stored as the sensor lay: turn them by RawInfo.orientation (IFD0's, CMT1's, or for
RAF the embedded JPEG's). RAF's and RW2's previews carry an EXIF block of their own with the same
orientation; the others mostly carry none, so a viewer honouring only the JPEG shows them unturned.

`data` may be the whole file or its head (`size` then says how long the file is). Every offset
and count is bounded by the data and every loop by a limit; all failures are MediaError:
'truncated' (a byte range the file needs runs past its end, or the structure is cut),
'not-an-image' (not a RAW at all), 'corrupt' (damaged structure), 'empty'; preview_bytes adds
'no-preview'.

The package, by concern: probe (probe_raw: which kind of RAW a file is, handed to its reader),
reader (the bounded reader of the bytes given), info (RawInfo and Preview), previews (the JPEGs
found: checked, ordered, and handed back by preview_bytes), tiff_based (TIFF-structured RAWs,
maker-note previews, RW2's JpgFromRaw), cr3, raf, and crw_mrw_x3f.
"""
from __future__ import annotations

from .info import Preview, RawInfo
from .previews import preview_bytes
from .probe import probe_raw

__all__ = ["Preview", "RawInfo", "preview_bytes", "probe_raw"]
