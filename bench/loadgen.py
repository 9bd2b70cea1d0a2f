"""Load generation in a process of its own: wrk when it is installed, else a small asyncio client.

Both run a closed loop of `concurrency` keep-alive connections for a fixed time, each request taking
the next path from a list (cycling), and report the same JSON: requests answered, ok (2xx), errors
(non-2xx answers and socket errors), seconds, p50 and p99 latency. wrk runs one thread: enough for
these rates, and it leaves the cores to the servers. The fallback speaks just enough HTTP/1.1 for
these servers (every answer has a Content-Length), on uvloop: a full client such as httpx spends
more CPU per request than the server under test, which on a two-core machine would measure the client.

    python -m bench.loadgen URL PATHS_FILE METHOD TOKEN BODY SECONDS CONCURRENCY
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

HERE = Path(__file__).absolute().parent
WRK = shutil.which("wrk")
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Load:
    """What to send: one request per path, all with the same method, token and body."""

    method: str
    paths: list[str]
    token: str
    body: str = ""


def choose(preference: str) -> None:
    """`auto` keeps wrk when installed; `python` forces the fallback; `wrk` insists on wrk."""
    global WRK
    if preference == "python":
        WRK = None
    elif preference == "wrk" and WRK is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk); use --load-generator python")


def tool() -> str:
    return "wrk" if WRK else "python (asyncio; install wrk for a lighter client)"


def run(base_url: str, load: Load, seconds: int, concurrency: int) -> dict:
    """Drive `base_url` with `load` for `seconds`; the result gains `rate`, 2xx answers per second."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = Path(tmp) / "paths"
        paths.write_text("\n".join(load.paths) + "\n")
        args = [str(paths), load.method, load.token, load.body]
        if WRK:
            command = [WRK, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "10s", "-s", str(HERE / "wrk.lua"), base_url, "--", *args]
        else:
            command = [sys.executable, "-m", "bench.loadgen", base_url, *args, str(seconds), str(concurrency)]
        output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=HERE.parent).stdout
    result = json.loads(output.strip().splitlines()[-1])
    result["rate"] = result["ok"] / result["seconds"]
    return result


def _encode(base_url: str, method: str, path: str, token: str, body: str) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {urlsplit(base_url).netloc}\r\nAuthorization: Bearer {token}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body.encode())}\r\n"
    return (head + "\r\n" + body).encode()


async def _connection(host: str, port: int, requests: Iterator[bytes], deadline: float, latencies: list[float], counts: Counter) -> None:
    """One keep-alive connection in a closed loop, counting non-2xx answers (`bad`) and a failed connection."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (started := time.perf_counter()) < deadline:
            writer.write(next(requests))
            head = await reader.readuntil(b"\r\n\r\n")
            length = _LENGTH.search(head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 2"):
                counts["bad"] += 1
    except (OSError, asyncio.IncompleteReadError):
        counts["failed"] += 1
    finally:
        writer.close()


async def _drive(base_url: str, paths: list[str], method: str, token: str, body: str, seconds: float, concurrency: int) -> dict:
    url = urlsplit(base_url)
    requests = itertools.cycle([_encode(base_url, method, path, token, body) for path in paths])
    latencies: list[float] = []
    counts: Counter = Counter()
    started = time.perf_counter()
    await asyncio.gather(*(
        _connection(url.hostname or "127.0.0.1", url.port or 80, requests, started + seconds, latencies, counts)
        for _ in range(concurrency)
    ))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(q: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0

    return {
        "requests": len(latencies), "ok": len(latencies) - counts["bad"], "errors": counts["bad"] + counts["failed"],
        "seconds": elapsed, "p50_ms": percentile(0.5), "p99_ms": percentile(0.99),
    }


if __name__ == "__main__":
    import uvloop

    base_url, paths_file, method, token, body, seconds, concurrency = sys.argv[1:8]
    paths = Path(paths_file).read_text().split()
    print(json.dumps(uvloop.run(_drive(base_url, paths, method, token, body, float(seconds), int(concurrency)))))
