"""SQL fragments every catalog query shares, written once."""
from __future__ import annotations

import json
import time

# A location is "present" while its file (or archive member) was there at the last scan and its
# bytes were read: state 'ok'. A photo is present while any of its locations is.
LOCATION_PRESENT = "state='ok'"


def present(photo: str = "p.id") -> str:
    """SQL condition: the photo whose id is the expression `photo` has a present location."""
    return f"EXISTS (SELECT 1 FROM locations pl WHERE pl.photo_id={photo} AND pl.{LOCATION_PRESENT})"


def id_list(ids) -> str:
    """A list of ids as one JSON parameter, for `IN (SELECT value FROM json_each(?))`."""
    return json.dumps(list(ids))


IN_LIST = "IN (SELECT value FROM json_each(?))"


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
