"""Capture dates that phones, cameras and apps put in file names: the last resort for a photo with
no other date (recorded as coming from the file name). Implausible values (before 1990, in the
future) are ignored."""
from __future__ import annotations

import re
import time
from datetime import datetime

# (pattern, has a time) most specific first; groups: year, month, day[, hour, minute, second[, fraction]]
_SEP = r"[-_. ]"
PATTERNS = [
    # 2022-06-21-16-51-29-164 (Android screenshots, Signal), 2020-11-01 02.31.02 (Dropbox), with millis
    (re.compile(r"(?<!\d)(\d{4})-(\d\d)-(\d\d)[-_ T](\d\d)[-.:](\d\d)[-.:](\d\d)(?:[-.](\d{1,3}))?(?!\d)"), True),
    # IMG_20210921_144423, PXL_20230615_090000000, Screenshot_20220807-195908, 20221107_231730
    (re.compile(r"(?<!\d)(\d{4})(\d\d)(\d\d)[-_T](\d\d)(\d\d)(\d\d)(\d{0,3})(?!\d)"), True),
    # IMG-20150125-WA0003 (WhatsApp), 2019-07-14, 20190714 (date only)
    (re.compile(r"(?<!\d)(\d{4})(\d\d)(\d\d)(?=-WA\d)"), False),
    (re.compile(r"(?<!\d)(\d{4})-(\d\d)-(\d\d)(?!\d)"), False),
    (re.compile(rf"(?:^|{_SEP})(\d{{4}})(\d\d)(\d\d)(?:{_SEP}|$)"), False),
]


def filename_date(name: str) -> str | None:
    """'IMG_20210921_144423.jpg' -> '2021-09-21T14:44:23'; a date alone gives midnight; None when
    the name holds no plausible date."""
    stem = name.rsplit("/", 1)[-1]
    stem = stem[:stem.rfind(".")] if "." in stem else stem
    for pattern, timed in PATTERNS:
        for m in pattern.finditer(stem):
            g = m.groups()
            try:
                when = datetime(int(g[0]), int(g[1]), int(g[2]), *(int(x) for x in g[3:6])) if timed \
                    else datetime(int(g[0]), int(g[1]), int(g[2]))
            except ValueError:
                continue
            if not (1990 <= when.year and when.timestamp() <= time.time() + 86400):
                continue
            text = when.strftime("%Y-%m-%dT%H:%M:%S")
            frac = g[6] if timed and len(g) > 6 else None
            return text + (f".{frac}" if frac and frac.strip("0") else "")
    return None
