"""Google Photos Takeout exports: parts, sidecars, folder kinds, matching, the report."""
