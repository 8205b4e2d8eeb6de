"""Test-wide guards and the `trove` fixture.

Nothing may download a model (HF_HUB_OFFLINE), and no test may touch the real Hugging Face cache
or a user's library.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

_hf_home = tempfile.mkdtemp(prefix="trove-test-hf-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = _hf_home
os.environ["HF_HUB_CACHE"] = os.path.join(_hf_home, "hub")
os.environ.pop("TROVE_MODEL", None)
os.environ.pop("TROVE_LIBRARY", None)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests' own helpers (photos, tiny_embedder)


class Trove:
    """Runs the real `trove` CLI against one library, in-process (CliRunner) or as a subprocess."""

    def __init__(self, library: Path):
        self.library = library

    def __call__(self, *args: str, code: int | None = 0, quiet: bool = True):
        from phototrove.cli import main

        result = CliRunner().invoke(main, ["--library", str(self.library), *(["--quiet"] if quiet else []),
                                           *map(str, args)],
                                    catch_exceptions=False)
        if code is not None:
            assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
        return result

    def json_lines(self, *args: str, code: int | None = 0) -> list[dict]:
        return [json.loads(line) for line in self(*args, "--json", code=code).stdout.splitlines() if line.strip()]

    def env(self) -> dict:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests"), str(REPO), env.get("PYTHONPATH", "")])
        return env

    def popen(self, *args: str, env: dict | None = None) -> subprocess.Popen:
        """The CLI as a real process; `env` adds variables to the test environment."""
        return subprocess.Popen([sys.executable, "-m", "phototrove.cli", "--library", str(self.library),
                                 "--quiet", *args], env={**self.env(), **(env or {})}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="surrogateescape")

    def run(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        p = self.popen(*args, env=env)
        out, err = p.communicate(timeout=300)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)


@pytest.fixture
def trove(tmp_path) -> Trove:
    return Trove(tmp_path / "library")


class Deadline(BaseException):
    """Raised by a test's alarm: a BaseException, so no `except Exception` in the code under test swallows it."""


@contextlib.contextmanager
def deadline(seconds: int = 60, what: str = "the test"):
    """Whatever runs inside fails (Deadline) instead of hanging past `seconds` (this process's alarm:
    processes it forks have none)."""
    def stop(*_):
        raise Deadline(f"{what} ran past its deadline of {seconds} s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
