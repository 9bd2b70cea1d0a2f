"""Tenants, integration keys, and turning a presented key into an Actor."""

from __future__ import annotations

import re
from uuid import UUID

from app.domain.actors import Actor, ActorType, Scope
from app.domain.errors import NotFound, invalid
from app.domain.keys import ApiKey, Tenant, hash_secret, new_secret, parse_scopes
from app.domain.ports import Clock, IdGenerator, TenantDirectory

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


async def authenticate_key(directory: TenantDirectory, secret: str) -> Actor | None:
    key = await directory.key_by_hash(hash_secret(secret))
    if key is None:
        return None
    return Actor(tenant_id=key.tenant_id, type=ActorType.API_KEY, id=key.id, scopes=frozenset(key.scopes))


ALL_SCOPES = [scope.value for scope in Scope]
