"""Tenants, integration keys, and turning a presented key into an Actor."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from app.domain.actors import Actor, ActorType, Scope
from app.domain.errors import NotFound, invalid
from app.domain.identity import IdentityProvider, SubjectMatch
from app.domain.keys import ApiKey, Tenant, hash_secret, new_secret, parse_scopes
from app.domain.people import Person
from app.domain.ports import Clock, IdGenerator, TenantDirectory, UnitOfWork

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


async def create_tenant(directory: TenantDirectory, clock: Clock, ids: IdGenerator, slug: str, name: str | None = None) -> Tenant:
    if not SLUG.match(slug):
        raise invalid(("slug",), "A slug is 1–63 lowercase letters, digits or dashes, starting with a letter or digit.")
    tenant = Tenant(id=ids.new_id(), slug=slug, name=name or slug, created_at=clock.now())
    await directory.add_tenant(tenant)
    return tenant


async def tenant(directory: TenantDirectory, slug: str) -> Tenant:
    found = await directory.tenant_by_slug(slug)
    if found is None:
        raise NotFound("tenant", slug)
    return found


async def create_key(
    directory: TenantDirectory, clock: Clock, ids: IdGenerator, slug: str, name: str, scopes: list[str]
) -> tuple[ApiKey, str]:
    """Returns the stored key and the secret, which exists nowhere else from here on."""
    owner = await tenant(directory, slug)
    try:
        parsed = parse_scopes(scopes)
    except ValueError as exc:
        raise invalid(("scopes",), str(exc)) from exc
    if not parsed:
        raise invalid(("scopes",), "A key needs at least one scope.")
    secret = new_secret()
    key = ApiKey(
        id=ids.new_id(), tenant_id=owner.id, name=name, scopes=parsed, key_hash=hash_secret(secret),
        hint=secret[:10], created_at=clock.now(),
    )
    await directory.add_key(key)
    return key, secret


async def revoke_key(directory: TenantDirectory, clock: Clock, slug: str, key_id: UUID) -> None:
    owner = await tenant(directory, slug)
    if not await directory.revoke_key(owner.id, key_id, clock.now()):
        raise NotFound("active key", key_id)


async def set_identity_provider(
    directory: TenantDirectory, clock: Clock, slug: str, *, issuer: str, audience: str, claim: str = "sub",
    match: str = "external_id", jwks: dict[str, Any] | None = None, jwks_url: str | None = None, pem_keys: tuple[str, ...] = (),
) -> IdentityProvider:
    owner = await tenant(directory, slug)
    existing = await directory.identity_provider(owner.id)
    now = clock.now()
    try:
        subject_match = SubjectMatch(match)
    except ValueError as exc:
        raise invalid(("match",), "match is external_id or email.") from exc
    idp = IdentityProvider(
        tenant_id=owner.id, issuer=issuer, audience=audience, claim=claim, match=subject_match, jwks=jwks,
        jwks_url=jwks_url, pem_keys=pem_keys, created_at=existing.created_at if existing else now, updated_at=now,
    )
    idp.check()
    await directory.set_identity_provider(idp)
    return idp


async def identity_provider(directory: TenantDirectory, actor: Actor) -> IdentityProvider:
    actor.require(Scope.ADMIN)
    idp = await directory.identity_provider(actor.tenant_id)
    if idp is None:
        raise NotFound("identity provider for this tenant", actor.tenant_id)
    return idp


async def person_for_subject(uow: UnitOfWork, match: SubjectMatch, subject: str) -> Person | None:
    """The active person a token's subject names, or None (unknown, ambiguous or deactivated)."""
    async with uow:
        if match is SubjectMatch.EXTERNAL_ID:
            person = await uow.people.get_by_external_id(subject)
        else:
            found = await uow.people.get_by_email(subject)
            person = found[0] if len(found) == 1 else None
    return person if person is not None and person.active else None


async def active_person(uow: UnitOfWork, person_id: UUID) -> Person | None:
    async with uow:
        person = await uow.people.get(person_id)
    return person if person is not None and person.active else None


async def authenticate_key(directory: TenantDirectory, secret: str) -> Actor | None:
    key = await directory.key_by_hash(hash_secret(secret))
    if key is None:
        return None
    return Actor(tenant_id=key.tenant_id, type=ActorType.API_KEY, id=key.id, scopes=frozenset(key.scopes))


ALL_SCOPES = [scope.value for scope in Scope]
