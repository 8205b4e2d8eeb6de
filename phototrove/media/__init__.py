"""Media files as bytes: what they are (kinds, probe), what they say (EXIF), how they decode, and
the JPEG, EXIF and ICC byte structures that readers and writers share. Used by ingest, embed and
output alike; it knows nothing of sources or the catalog."""
