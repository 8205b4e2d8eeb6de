"""Giving photos back as files: the lossless writer (new metadata segments in front of untouched
image bytes), safe names, the resumable manifest, and `trove recover lrprev` and `trove export`
built on them."""
