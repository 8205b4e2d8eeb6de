"""Test-wide guards: nothing may download a model (HF_HUB_OFFLINE), and no test may touch the real
Hugging Face cache or a user's library."""
from __future__ import annotations

import os
import tempfile

_hf_home = tempfile.mkdtemp(prefix="trove-test-hf-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = _hf_home
os.environ["HF_HUB_CACHE"] = os.path.join(_hf_home, "hub")
os.environ.pop("TROVE_MODEL", None)
