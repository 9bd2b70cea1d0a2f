"""Idempotency keys: the same POST with the same key is answered once, and replayed after.

Per tenant and caller; kept 24 hours. The same key with another request is refused (422); the same
key while the first request is still running is a conflict (409).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

KEPT_FOR = timedelta(hours=24)
KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
"""1–255 printable ASCII characters, no spaces."""


class Begun(StrEnum):
    NEW = "new"
    """First time: run the request, then finish or release the key."""
    REPLAY = "replay"
    MISMATCH = "mismatch"
    IN_FLIGHT = "in_flight"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Attempt:
    outcome: Begun
    response: StoredResponse | None = None


def valid_key(value: str) -> bool:
    return bool(KEY.match(value))


def replayable_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """What a replay repeats: the representation's own headers, not per-connection ones."""
    keep = {"content-type", "location", "etag", "link"}
    return [(name, value) for name, value in headers if name.lower() in keep]
