"""On SIGTERM the server and the worker stop cleanly: answer what is in flight, then exit 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_exit(process: subprocess.Popen, seconds: float) -> int | None:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        return None


def _wait_for_line(process: subprocess.Popen, marker: bytes, timeout: float) -> bytes:
    """Read the process's stderr until a line holds `marker` (a slow machine may take seconds to start)."""
    seen, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()  # type: ignore[union-attr]
        seen += line
        if marker in line:
            return seen
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no {marker!r} within {timeout} s: {seen.decode(errors='replace')[-2000:]}")


def test_sigterm_stops_the_server_and_its_worker_cleanly(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shutdown.db'}"
    env = os.environ | {"STINT_DATABASE_URL": url, "STINT_SHUTDOWN_TIMEOUT_SECONDS": "5"}
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--with-worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal, so the exit status is SIGTERM's
        assert _wait_exit(server, 10) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
    log = server.stderr.read()
    assert b"Application shutdown complete" in log, "the lifespan ran: in-flight work drained, worker stopped"
    assert b"Traceback" not in log

    worker = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = _wait_for_line(worker, b"worker started", 30)  # its SIGTERM handler is in place from then on
    worker.send_signal(signal.SIGTERM)
    assert _wait_exit(worker, 10) == 0
    assert b"Traceback" not in started + worker.stderr.read()
