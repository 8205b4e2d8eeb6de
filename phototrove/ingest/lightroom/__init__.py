"""Lightroom Classic: the preview cache (.lrprev, the 13.3+ layout, previews.db, root-pixels.db),
the catalog (.lrcat), pairing previews with catalog images, the `lrprev` source."""
