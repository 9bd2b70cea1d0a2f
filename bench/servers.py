"""The servers under test, each a uvicorn process of its own: one worker, uvloop, httptools, no access log.

With one worker uvicorn serves in the process it starts in, so the process id is the server's and
/proc/<pid>/status gives its peak resident memory (VmHWM).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).absolute().parent.parent


class Server:
    def __init__(self, name: str, app: str, env: dict[str, str], *, factory: bool = False) -> None:
        self.name = name
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
        ]
        self.process = subprocess.Popen([*command, "--factory"] if factory else command, cwd=ROOT, env=os.environ | env)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} server exited with status {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} server did not answer /healthz within {timeout} s")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
