"""`trove serve` started for real in a subprocess on a free port, and a small HTTP client for it."""
from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import time

from conftest import Trove


class Server:
    def __init__(self, trove: Trove, *args: str, env: dict | None = None):
        self.proc = trove.popen("serve", "--port", "0", *args, env=env)
        self.stderr: list[str] = []
        deadline = time.monotonic() + 120
        while True:
            line = self.proc.stderr.readline()
            if not line:
                out, err = self.proc.communicate(timeout=10)
                raise AssertionError(f"trove serve exited ({self.proc.returncode}): {''.join(self.stderr)}{err}")
            self.stderr.append(line)
            m = re.search(r"at (http://(\S+?):(\d+)/(\S*))", line)
            if m:
                self.url, self.host, self.port = m.group(1), m.group(2).strip("[]"), int(m.group(3))
                self.token = (re.search(r"token=(\S+)", m.group(4)) or [None, None])[1]
                break
            if time.monotonic() > deadline:
                raise AssertionError("trove serve printed no address")

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                host: str = "127.0.0.1"):
        """(status, headers, body) of one request, the path sent exactly as given."""
        conn = http.client.HTTPConnection(host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def json(self, path: str, status: int = 200, **kw):
        code, _headers, body = self.get(path, **kw)
        assert code == status, (path, code, body[:300])
        return json.loads(body)

    def post_json(self, path: str, obj, *, origin: bool = True):
        headers = {"content-type": "application/json"}
        if origin:
            headers["origin"] = f"http://127.0.0.1:{self.port}"
        code, _h, body = self.request("POST", path, json.dumps(obj).encode(), headers)
        return code, json.loads(body) if body.startswith(b"{") else body

    def stop(self) -> str:
        """Ctrl-C: the server ends cleanly (exit 0 or 130, no traceback); its stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("trove serve did not stop on Ctrl-C")
        err = "".join(self.stderr) + self.proc.stderr.read()
        assert "Traceback" not in err, err
        return err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
