"""Integration API keys: random secrets shown once, stored only as a SHA-256 hash.

A key has 256 bits of entropy, so a fast hash is the right tool: nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.domain.actors import Scope

KEY_PREFIX = "stint_"


@dataclass(frozen=True)
class Tenant:
    id: UUID
    slug: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: UUID
    tenant_id: UUID
    name: str
    scopes: frozenset[Scope]
    key_hash: str
    hint: str
    created_at: datetime
    revoked_at: datetime | None = None


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(values: list[str]) -> frozenset[Scope]:
    known = {scope.value for scope in Scope}
    unknown = [value for value in values if value not in known]
    if unknown:
        raise ValueError(f"Unknown scopes: {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
    return frozenset(Scope(value) for value in values)
