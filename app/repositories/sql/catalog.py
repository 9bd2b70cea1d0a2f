"""The catalogue: skills and briefs."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select

from app.domain.briefs import Brief, BriefStatus
from app.domain.pagination import Page, PageRequest
from app.domain.skills import Skill
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.base import TenantTable


class SqlSkills(TenantTable[Skill]):
    table, kind = t.skills, "skill"
    to_values, from_row = staticmethod(m.skill_values), staticmethod(m.skill_from)
    unique_fields = {"key": "skill.key_taken"}

    async def add(self, skill: Skill) -> None:
        await self._insert(skill)

    async def get(self, skill_id: UUID) -> Skill | None:
        return await self._get(self.table.c.id == skill_id)

    async def get_many(self, skill_ids: list[UUID]) -> dict[UUID, Skill]:
        if not skill_ids:
            return {}
        rows = (await self._conn.execute(select(self.table).where(self._scoped(self.table.c.id.in_(skill_ids))))).all()
        return {row.id: m.skill_from(row) for row in rows}

    async def by_keys(self, keys: list[str], *, lock: bool = False) -> dict[str, Skill]:
        return {k.key: k for k in await self._where_in(self.table.c.key, keys, lock=lock)}

    async def add_many(self, skills: list[Skill]) -> None:
        await self._insert_many(skills)

    async def update_many(self, skills: list[Skill]) -> None:
        await self._update_many(skills)

    async def update(self, skill: Skill, expected_version: int) -> None:
        await self._cas(skill, skill.id, expected_version)

    async def list(self, page: PageRequest) -> Page[Skill]:
        return await self._page(page)


class SqlBriefs(TenantTable[Brief]):
    table, kind = t.briefs, "brief"
    to_values, from_row = staticmethod(m.brief_values), staticmethod(m.brief_from)
    unique_fields = {"key": "brief.key_taken"}

    async def get_many(self, brief_ids: list[UUID]) -> dict[UUID, Brief]:
        return {b.id: b for b in await self._where_in(self.table.c.id, brief_ids)}

    async def by_keys(self, keys: list[str], *, lock: bool = False) -> dict[str, Brief]:
        return {b.key: b for b in await self._where_in(self.table.c.key, keys, lock=lock) if b.key is not None}

    async def add_many(self, briefs: list[Brief]) -> None:
        await self._insert_many(briefs)

    async def update_many(self, briefs: list[Brief]) -> None:
        await self._update_many(briefs)

    async def add(self, brief: Brief) -> None:
        await self._insert(brief)

    async def get(self, brief_id: UUID) -> Brief | None:
        return await self._get(self.table.c.id == brief_id)

    async def update(self, brief: Brief, expected_version: int) -> None:
        await self._cas(brief, brief.id, expected_version)

    async def list(self, page: PageRequest, *, statuses: tuple[BriefStatus, ...] = (), skill_ids: tuple[UUID, ...] = ()) -> Page[Brief]:
        conditions = []
        if statuses:
            conditions.append(self.table.c.status.in_([s.value for s in statuses]))
        if skill_ids:
            conditions.append(self.table.c.skill_id.in_(skill_ids))
        return await self._page(page, *conditions)
