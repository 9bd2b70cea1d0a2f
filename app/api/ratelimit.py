"""Per-caller rate limits: a token bucket per API key or person, in-process or shared through Redis.

In-process buckets are exact for one server process; with several behind a load balancer set
STINT_REDIS_URL so they share one bucket per caller (a Lua script keeps each take atomic, on Redis's clock).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

from cachetools import LRUCache
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("stint.ratelimit")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    """Until the bucket is full again."""
    retry_after: float
    """Until one more request is allowed (0 when allowed now)."""

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_seconds)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class Buckets(Protocol):
    async def take(self, key: str) -> Decision: ...


def _decide(tokens: float, rate: float, burst: int) -> Decision:
    """`tokens` is what the bucket holds after refilling, before this request."""
    if tokens >= 1:
        left = tokens - 1
        return Decision(True, burst, int(left), (burst - left) / rate, 0.0)
    return Decision(False, burst, 0, (burst - tokens) / rate, (1 - tokens) / rate)


class MemoryBuckets:
    SIZE = 100_000

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: LRUCache[str, tuple[float, float]] = LRUCache(maxsize=self.SIZE)

    async def take(self, key: str) -> Decision:
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        decision = _decide(tokens, self.rate, self.burst)
        self._buckets[key] = (tokens - 1 if decision.allowed else tokens, now)
        return decision


_TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or t
tokens = math.min(burst, tokens + math.max(0, t - at) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(t))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(tokens)}
"""


class RedisBuckets:
    def __init__(self, url: str, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._redis = Redis.from_url(url)
        self._take = self._redis.register_script(_TAKE)

    async def take(self, key: str) -> Decision:
        try:
            allowed, left = await self._take(keys=[f"stint:ratelimit:{key}"], args=[self.rate, self.burst])
        except RedisError:  # fail open: a limiter outage must not take the API down with it
            log.warning(json.dumps({"msg": "rate limit skipped: redis unavailable"}))
            return Decision(True, self.burst, self.burst, 0.0, 0.0)
        left = float(left)
        if allowed:
            return Decision(True, self.burst, int(left), (self.burst - left) / self.rate, 0.0)
        return Decision(False, self.burst, 0, (self.burst - left) / self.rate, (1 - left) / self.rate)

    async def close(self) -> None:
        await self._redis.aclose()
