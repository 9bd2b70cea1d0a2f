"""A tenant's identity provider: how a person's bearer token is checked and mapped to a person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from app.domain.errors import FieldProblem, InvalidInput

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class SubjectMatch(StrEnum):
    EXTERNAL_ID = "external_id"
    EMAIL = "email"


@dataclass(frozen=True)
class IdentityProvider:
    tenant_id: UUID
    issuer: str
    audience: str
    claim: str
    match: SubjectMatch
    jwks: dict[str, Any] | None
    jwks_url: str | None
    pem_keys: tuple[str, ...]
    created_at: datetime
    updated_at: datetime

    def check(self) -> None:
        found: list[FieldProblem] = []
        sources = sum(1 for present in (self.jwks is not None, self.jwks_url is not None, bool(self.pem_keys)) if present)
        if sources != 1:
            found.append(FieldProblem(("keys",), "Give exactly one key source: a JWKS document, a JWKS URL or PEM keys.", "value_error"))
        if not self.issuer or not self.audience or not self.claim:
            found.append(FieldProblem(("issuer",), "issuer, audience and claim must not be empty.", "value_error"))
        if self.jwks is not None and not isinstance(self.jwks.get("keys"), list):
            found.append(FieldProblem(("jwks",), "A JWKS document is an object with a 'keys' list.", "value_error"))
        if self.jwks_url is not None:
            url = urlparse(self.jwks_url)
            if url.scheme != "https" and not (url.scheme == "http" and url.hostname in LOOPBACK_HOSTS):
                found.append(FieldProblem(("jwks_url",), "A JWKS URL must use https (http only on loopback, for development).",
                    "value_error"))
        if found:
            raise InvalidInput(found)
