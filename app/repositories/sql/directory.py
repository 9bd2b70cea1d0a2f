"""The tenant directory: tenants, their API keys and identity providers, the only data read outside one tenant."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.errors import Conflict
from app.domain.identity import IdentityProvider
from app.domain.keys import ApiKey, Tenant
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.engine import run_one


class SqlTenantDirectory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_tenant(self, tenant: Tenant) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(t.tenants.insert().values(id=tenant.id, slug=tenant.slug, name=tenant.name,
                    created_at=tenant.created_at))
                await conn.execute(t.event_counters.insert().values(tenant_id=tenant.id, last_seq=0, webhooks_version=0))
        except IntegrityError as exc:
            raise Conflict(f"A tenant with slug '{tenant.slug}' already exists.", code="tenant.slug_taken") from exc

    async def tenant_by_slug(self, slug: str) -> Tenant | None:
        row = (await run_one(self.engine, select(t.tenants).where(t.tenants.c.slug == slug))).first()
        return None if row is None else m.tenant_from(row)

    async def add_key(self, key: ApiKey) -> None:
        await run_one(self.engine, t.api_keys.insert().values(m.key_values(key)), write=True)

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        stmt = select(t.api_keys).where(t.api_keys.c.key_hash == key_hash, t.api_keys.c.revoked_at.is_(None))
        row = (await run_one(self.engine, stmt)).first()
        return None if row is None else m.key_from(row)

    async def keys_of(self, tenant_id: UUID) -> list[ApiKey]:
        stmt = select(t.api_keys).where(t.api_keys.c.tenant_id == tenant_id).order_by(t.api_keys.c.id)
        return [m.key_from(row) for row in (await run_one(self.engine, stmt)).all()]

    async def key_is_active(self, tenant_id: UUID, key_id: UUID) -> bool:
        c = t.api_keys.c
        stmt = select(c.id).where(c.tenant_id == tenant_id, c.id == key_id, c.revoked_at.is_(None))
        return (await run_one(self.engine, stmt)).first() is not None

    async def revoke_key(self, tenant_id: UUID, key_id: UUID, at: datetime) -> bool:
        stmt = (
            update(t.api_keys)
            .where(t.api_keys.c.tenant_id == tenant_id, t.api_keys.c.id == key_id, t.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return (await run_one(self.engine, stmt, write=True)).rowcount == 1

    async def set_identity_provider(self, idp: IdentityProvider) -> None:
        """Create or replace the tenant's identity provider."""
        table = t.identity_providers
        async with self.engine.begin() as conn:
            await conn.execute(table.delete().where(table.c.tenant_id == idp.tenant_id))
            await conn.execute(table.insert().values(m.idp_values(idp)))

    async def identity_provider(self, tenant_id: UUID) -> IdentityProvider | None:
        row = (await run_one(self.engine, select(t.identity_providers).where(t.identity_providers.c.tenant_id == tenant_id))).first()
        return None if row is None else m.idp_from(row)

    async def identity_providers_for(self, issuer: str) -> list[IdentityProvider]:
        rows = (await run_one(self.engine, select(t.identity_providers).where(t.identity_providers.c.issuer == issuer))).all()
        return [m.idp_from(row) for row in rows]
