"""People and the reporting lines between them."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, func, or_, select

from app.domain.assignment import OPEN_STATES
from app.domain.pagination import Page, PageRequest, cursor_id
from app.domain.people import Person, TeamMember
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.base import TenantTable, select_matching
from app.repositories.sql.queries import MAX_CHAIN_DEPTH, effective_state_condition, managers_cte, reports_cte


class SqlPeople(TenantTable[Person]):
    table, kind = t.people, "person"
    to_values, from_row = staticmethod(m.person_values), staticmethod(m.person_from)
    unique_fields = {"external_id": "person.external_id_taken"}

    async def add(self, person: Person) -> None:
        await self._insert(person)

    async def get(self, person_id: UUID) -> Person | None:
        return await self._get(self.table.c.id == person_id)

    async def get_by_external_id(self, external_id: str) -> Person | None:
        return await self._get(self.table.c.external_id == external_id)

    async def get_many(self, person_ids: list[UUID]) -> dict[UUID, Person]:
        return {p.id: p for p in await self._where_in(self.table.c.id, person_ids)}

    async def by_external_ids(self, external_ids: list[str], *, lock: bool = False) -> dict[str, Person]:
        return {p.external_id: p for p in await self._where_in(self.table.c.external_id, external_ids, lock=lock)}

    async def add_many(self, people: list[Person]) -> None:
        await self._insert_many(people)

    async def update_many(self, people: list[Person]) -> None:
        await self._update_many(people)

    async def manager_edges(self, person_ids: list[UUID]) -> dict[UUID, UUID | None]:
        """(person -> manager) for these people and everyone above them: one primary-key lookup per level
        of the org chart. (A recursive CTE from many people at once gets a hash join over the whole
        table from PostgreSQL's planner: its cost grows with the tenant, this one with the chart's depth.)"""
        p = t.people.c
        edges: dict[UUID, UUID | None] = {}
        frontier = sorted(set(person_ids))
        for _ in range(MAX_CHAIN_DEPTH):
            if not frontier:
                break
            stmt = select_matching(self._conn.dialect.name, p.id, [p.id, p.manager_id])
            rows = (await self._conn.execute(stmt, {"tenant": self._tenant_id, "keys": frontier})).all()
            edges.update({row.id: row.manager_id for row in rows})
            frontier = sorted({row.manager_id for row in rows if row.manager_id is not None and row.manager_id not in edges})
        return edges

    async def update(self, person: Person, expected_version: int) -> None:
        await self._cas(person, person.id, expected_version)

    async def get_by_email(self, email: str) -> list[Person]:
        stmt = self._select().where(self._scoped(func.lower(self.table.c.email) == email.lower())).limit(2)
        return await self._from_rows((await self._conn.execute(stmt)).all())

    async def team(self, manager_id: UUID, page: PageRequest, now: datetime) -> Page[TeamMember]:
        """Everyone below the manager, with their depth and count of open assignments, in one query."""
        p, a = self.table.c, t.assignments
        below = reports_cte(self._tenant_id, manager_id)
        open_states = or_(*(effective_state_condition(a, state, now) for state in OPEN_STATES))
        open_count = (
            select(func.count()).select_from(a)
            .where(a.c.tenant_id == self._tenant_id, a.c.assignee_id == p.id, open_states)
            .scalar_subquery()
        )
        after = cursor_id(page.after)
        stmt = (
            select(self.table, func.min(below.c.depth).label("depth"), open_count.label("open_assignments"))
            .join(below, and_(p.tenant_id == self._tenant_id, p.id == below.c.id))
            .where(*([] if after is None else [p.id > after]))
            .group_by(*self.table.c)
            .order_by(p.id)
            .limit(page.limit + 1)
        )
        rows = (await self._conn.execute(stmt)).all()
        members = [TeamMember(m.person_from_values(row._mapping), row.depth, row.open_assignments) for row in rows]
        return Page.from_rows(members, page, key=lambda member: str(member.person.id))

    async def lock_hierarchy(self) -> None:
        """Serialise changes of reporting lines within the tenant (its row, FOR UPDATE) until commit, so two
        concurrent changes cannot each pass the cycle check and together close a loop. SQLite's single
        writer already serialises them."""
        await self._conn.execute(select(t.tenants.c.id).where(t.tenants.c.id == self._tenant_id).with_for_update())

    async def managers_above(self, person_id: UUID) -> list[UUID]:
        """One recursive query up the chain; depth-capped so a cycle in old data cannot loop."""
        chain = managers_cte(self._tenant_id, person_id)
        rows = (await self._conn.execute(select(chain.c.id).order_by(chain.c.depth))).all()
        seen: list[UUID] = []
        for (manager,) in rows:
            if manager in seen:
                break
            seen.append(manager)
        return seen

    async def list(
        self, page: PageRequest, *, manager_id: UUID | None = None, active: bool | None = None, visible_to: UUID | None = None
    ) -> Page[Person]:
        c = self.table.c
        conditions = []
        if manager_id is not None:
            conditions.append(c.manager_id == manager_id)
        if active is not None:
            conditions.append(c.active == active)
        if visible_to is not None:
            above = managers_cte(self._tenant_id, visible_to)
            below = reports_cte(self._tenant_id, visible_to)
            conditions.append(or_(c.id == visible_to, c.id.in_(select(above.c.id)), c.id.in_(select(below.c.id))))
        return await self._page(page, *conditions)
