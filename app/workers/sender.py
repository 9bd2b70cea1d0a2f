"""Sending one webhook request with httpx, guarded: no private addresses (unless allowed), no redirects,
a timeout, and at most a few KiB of the answer read."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlparse

import httpx

from app.domain.webhooks import AttemptResult

MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_BYTES = 300
"""Of an answer that is not a success, this much of the body is kept in the delivery log (the LRS's reason)."""
CONCURRENCY = 8
"""Requests in flight per worker. httpx's pool gets slower past a few connections (measured on loopback:
1 connection ~1,300 req/s, 8 ~840, 64 with default keep-alive ~260), so a worker keeps few, all kept alive."""


def delivery_limits() -> httpx.Limits:
    return httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)


class HttpSender:
    def __init__(
        self, client: httpx.AsyncClient, *, timeout: float = 10.0, allow_private: bool = False, concurrency: int = CONCURRENCY,
    ) -> None:
        self._client, self._timeout, self._allow_private = client, timeout, allow_private
        self._slots = asyncio.Semaphore(concurrency)

    async def send(self, url: str, headers: dict[str, str], body: bytes, method: str = "POST") -> AttemptResult:
        started = time.perf_counter()
        async with self._slots:
            try:
                async with asyncio.timeout(self._timeout * 1.5):  # the whole attempt, DNS and a trickling body included
                    return await self._send(url, headers, body, method, started)
            except TimeoutError:
                return AttemptResult(None, f"no complete answer within {self._timeout * 1.5:g} s", 1000 * (time.perf_counter() - started))

    async def _send(self, url: str, headers: dict[str, str], body: bytes, method: str, started: float) -> AttemptResult:
        excerpt = None
        try:
            if not self._allow_private:
                await self._refuse_private(url)
            async with self._client.stream(
                method, url, content=body, headers=headers, timeout=self._timeout, follow_redirects=False
            ) as response:
                read, head = 0, b""
                if not response.is_stream_consumed:  # an in-memory (mock) response has nothing left to stream
                    async for chunk in response.aiter_raw():
                        head += chunk[:EXCERPT_BYTES - len(head)] if len(head) < EXCERPT_BYTES else b""
                        read += len(chunk)
                        if read >= MAX_RESPONSE_BYTES:
                            break
                else:
                    try:
                        head = response.content[:EXCERPT_BYTES]
                    except httpx.ResponseNotRead:
                        pass
                status, error = response.status_code, None
                if not 200 <= status < 300 and head:
                    excerpt = head.decode("utf-8", "replace")
                if 300 <= status < 400:
                    error = "redirects are not followed"
        except _Refused as exc:
            status, error = None, str(exc)
        except httpx.TimeoutException:
            status, error = None, f"no answer within {self._timeout:g} s"
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:500]
        return AttemptResult(status, error, 1000 * (time.perf_counter() - started), excerpt)

    async def _refuse_private(self, url: str) -> None:
        try:
            parsed = urlparse(url)
            host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
        except ValueError as exc:
            raise _Refused(f"not a valid URL: {exc}") from exc
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise _Refused(f"cannot resolve {host}") from exc
        for *_, sockaddr in infos:
            if not ipaddress.ip_address(sockaddr[0]).is_global:
                raise _Refused(f"{host} resolves to a non-public address; refused")


class _Refused(Exception):
    pass
