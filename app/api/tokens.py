"""Checking a person's bearer token (a JWT from the tenant's identity provider) with PyJWT.

Which tenant: the token's issuer names it (with its audience, when issuers are shared). Keys come
from the tenant's JWKS document, JWKS URL (fetched with httpx, cached, re-fetched when a token names
an unknown `kid`), or PEM keys. Time comes from the Clock port, so `exp`/`nbf` follow test clocks too.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cachetools import LRUCache, TTLCache
from jwt import PyJWKSet

from app.domain.identity import IdentityProvider
from app.domain.ports import Clock, TenantDirectory

ALGORITHMS = ("RS256", "ES256", "EdDSA")
LEEWAY_SECONDS = 60


class InvalidToken(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


@dataclass(frozen=True)
class VerifiedToken:
    idp: IdentityProvider
    subject: str


class JwksCache:
    """JWKS documents by URL: kept `ttl` seconds; re-fetched early (at most every `min_refresh`) for an unknown kid."""

    def __init__(self, http: httpx.AsyncClient, ttl: float = 300.0, min_refresh: float = 5.0) -> None:
        self._http, self._ttl, self._min_refresh = http, ttl, min_refresh
        self._docs: dict[str, tuple[float, PyJWKSet]] = {}
        self._lock = asyncio.Lock()

    async def _fetch(self, url: str) -> PyJWKSet:
        try:
            response = await self._http.get(url, follow_redirects=False)
            response.raise_for_status()
            keys = PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise InvalidToken("The identity provider's keys could not be fetched.") from exc
        self._docs[url] = (time.monotonic(), keys)
        return keys

    async def key(self, url: str, kid: str | None) -> Any:
        async with self._lock:
            fetched_at, keys = self._docs.get(url, (0.0, None))
            if keys is None or time.monotonic() - fetched_at > self._ttl:
                keys = await self._fetch(url)
            found = _find(keys, kid)
            if found is None and time.monotonic() - self._docs[url][0] >= self._min_refresh:
                found = _find(await self._fetch(url), kid)
        if found is None:
            raise InvalidToken("The token's signing key (kid) is not one of the identity provider's keys.")
        return found


def _find(keys: PyJWKSet, kid: str | None) -> Any:
    candidates = [key for key in keys.keys if kid is None or key.key_id == kid]
    return candidates[0].key if len(candidates) == 1 else None


@functools.lru_cache(maxsize=256)
def _pem_key(alg: str, pem: str) -> Any:
    """A PEM key parsed once for an algorithm (PyJWT would parse it again for every token); a key of
    another type raises InvalidKeyError or ValueError here, as jwt.decode would."""
    return jwt.get_algorithm_by_name(alg).prepare_key(pem)


_KEY_SETS: LRUCache[str, PyJWKSet] = LRUCache(maxsize=256)


def _key_set(document: dict[str, Any]) -> PyJWKSet:
    """A stored JWKS document's keys, parsed once per document content."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    found = _KEY_SETS.get(canonical)
    if found is None:
        found = _KEY_SETS[canonical] = PyJWKSet.from_dict(document)
    return found


class TokenVerifier:
    """Checks tokens against the identity providers configured in the directory.

    With `ttl` > 0 a process remembers, for `ttl` seconds, each issuer's identity providers (found ones only:
    an unknown issuer is looked up again every time) and each token it has verified (its signature, issuer,
    audience and subject; `exp` and `nbf` are checked against the clock on every use). So a change of an
    identity provider's configuration (issuer, audience, keys) reaches every process within `ttl` seconds;
    who the subject is, and whether they are still active, is never cached."""

    SIZE = 10_000

    def __init__(self, directory: TenantDirectory, clock: Clock, jwks: JwksCache, ttl: float = 0.0) -> None:
        self._directory, self._clock, self._jwks = directory, clock, jwks
        ttl = max(ttl, 0.0)
        self._providers: TTLCache[str, list[IdentityProvider]] = TTLCache(self.SIZE if ttl else 0, ttl)
        self._verified: TTLCache[str, tuple[VerifiedToken, Any, Any]] = TTLCache(self.SIZE if ttl else 0, ttl)

    async def verify(self, token: str) -> VerifiedToken:
        hit = self._verified.get(token)
        if hit is not None:
            self._check_times({"exp": hit[1], "nbf": hit[2]})
            return hit[0]
        verified, claims = await self._verify(token)
        if self._verified.maxsize:
            self._verified[token] = (verified, claims.get("exp"), claims.get("nbf"))
        return verified

    async def _identity_providers(self, issuer: str) -> list[IdentityProvider]:
        hit = self._providers.get(issuer)
        if hit is not None:
            return hit
        providers = await self._directory.identity_providers_for(issuer)
        if self._providers.maxsize and providers:
            self._providers[issuer] = providers
        return providers

    async def _verify(self, token: str) -> tuple[VerifiedToken, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise InvalidToken("The bearer token is neither an API key nor a well-formed JWT.") from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise InvalidToken(f"Tokens must be signed with one of {', '.join(ALGORITHMS)}.")
        issuer = unverified.get("iss")
        providers = await self._identity_providers(issuer) if isinstance(issuer, str) else []
        audiences = unverified.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences if isinstance(audiences, list) else []
        providers = [idp for idp in providers if idp.audience in audiences]
        if len(providers) != 1:
            raise InvalidToken("The token's issuer and audience match no identity provider configured here.")
        idp = providers[0]
        claims = await self._verified_claims(token, alg, header.get("kid"), idp)
        subject = claims.get(idp.claim)
        if not isinstance(subject, str) or not subject:
            raise InvalidToken(f"The token has no '{idp.claim}' claim naming the person.")
        return VerifiedToken(idp, subject), claims

    async def _verified_claims(self, token: str, alg: str, kid: str | None, idp: IdentityProvider) -> dict[str, Any]:
        keys: list[Any]
        if idp.jwks_url is not None:
            keys = [await self._jwks.key(idp.jwks_url, kid)]
        elif idp.jwks is not None:
            found = _find(_key_set(idp.jwks), kid)
            if found is None:
                raise InvalidToken("The token's signing key (kid) is not one of the identity provider's keys.")
            keys = [found]
        else:
            keys = list(idp.pem_keys)
        for key in keys:
            try:
                if isinstance(key, str):
                    key = _pem_key(alg, key)
                claims = jwt.decode(
                    token, key=key, algorithms=[alg], audience=idp.audience, issuer=idp.issuer,
                    options={"require": ["exp", "iss", "aud"], "verify_exp": False, "verify_nbf": False, "verify_iat": False},
                )
            except jwt.InvalidSignatureError:
                continue
            except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError, ValueError, TypeError):  # key of another type
                continue
            except jwt.PyJWTError as exc:
                raise InvalidToken(f"The token is not valid: {exc}.") from exc
            self._check_times(claims)
            return claims
        raise InvalidToken("The token's signature does not verify with the identity provider's keys.")

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self._clock.now().timestamp()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, (int, float)) or now > exp + LEEWAY_SECONDS:
            raise InvalidToken("The token has expired.")
        if nbf is not None and (not isinstance(nbf, (int, float)) or now < nbf - LEEWAY_SECONDS):
            raise InvalidToken("The token is not valid yet.")
