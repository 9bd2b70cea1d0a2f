"""Use cases for people and their skill profiles."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.domain.actors import Scope
from app.domain.errors import Conflict, NotFound, PermissionDenied, invalid
from app.domain.pagination import Page, PageRequest
from app.domain.people import EDITABLE_PERSON_FIELDS, Person, check_manager
from app.domain.ports import UnitOfWork
from app.domain.skills import Skill
from app.domain.work import Evidence
from app.services.context import Context, check_if_match, record, require_found


@dataclass(frozen=True)
class PersonFields:
    display_name: str
    email: str | None = None
    manager_id: UUID | None = None
    team: str | None = None
    title: str | None = None
    active: bool = True
    is_admin: bool = False


async def _check_manager(uow: UnitOfWork, person_id: UUID, manager_id: UUID | None) -> None:
    if manager_id is None:
        return
    await uow.people.lock_hierarchy()
    manager = await uow.people.get(manager_id)
    if manager is None:
        raise invalid(("manager_id",), f"No person with id {manager_id}.", "unknown_person", code="person.unknown_manager")
    check_manager(person_id, manager_id, await uow.people.managers_above(manager_id))


async def _ensure_external_id_free(uow: UnitOfWork, external_id: str, person_id: UUID | None = None) -> None:
    existing = await uow.people.get_by_external_id(external_id)
    if existing is not None and existing.id != person_id:
        raise Conflict(
            f"A person with external_id '{external_id}' already exists ({existing.id}).",
            code="person.external_id_taken",
            existing_id=str(existing.id),
        )


async def is_visible(ctx: Context, uow: UnitOfWork, person_id: UUID) -> bool:
    """A person sees themselves, their managers above and everyone below them; admins and integrations see all."""
    me = ctx.actor.person_id
    if me is None or ctx.actor.is_admin or person_id == me:
        return True
    return me in await uow.people.managers_above(person_id) or person_id in await uow.people.managers_above(me)


async def _visible_person(ctx: Context, uow: UnitOfWork, person_id: UUID) -> Person:
    person = require_found(await uow.people.get(person_id), "person", person_id)
    if not await is_visible(ctx, uow, person_id):
        raise NotFound("person", person_id)
    return person


def _guard_admin_flag(ctx: Context, wants_admin: bool | None, current: bool = False) -> None:
    """Only a tenant admin may make or unmake admins (an HRIS key with people:write may not)."""
    if wants_admin is not None and wants_admin != current and not ctx.actor.is_admin:
        raise PermissionDenied("Only a tenant admin may change is_admin.", code="forbidden.admin_only")


async def create_person(ctx: Context, external_id: str, fields: PersonFields) -> Person:
    ctx.actor.require(Scope.PEOPLE_WRITE)
    _guard_admin_flag(ctx, fields.is_admin)
    now = ctx.clock.now()
    person = Person(
        id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, external_id=external_id,
        version=1, created_at=now, updated_at=now, **dataclasses.asdict(fields),
    )
    async with ctx.uow() as uow:
        await _ensure_external_id_free(uow, external_id)
        await _check_manager(uow, person.id, person.manager_id)
        await uow.people.add(person)
        await record(ctx, uow, "person.created", person)
        await uow.commit()
    return person


async def get_person(ctx: Context, person_id: UUID) -> Person:
    ctx.actor.require(Scope.PEOPLE_READ)
    async with ctx.uow(readonly=True) as uow:
        return await _visible_person(ctx, uow, person_id)


async def list_people(ctx: Context, page: PageRequest, *, manager_id: UUID | None = None, active: bool | None = None) -> Page[Person]:
    ctx.actor.require(Scope.PEOPLE_READ)
    visible_to = None if ctx.actor.is_admin else ctx.actor.person_id
    async with ctx.uow(readonly=True) as uow:
        return await uow.people.list(page, manager_id=manager_id, active=active, visible_to=visible_to)


async def _apply(ctx: Context, uow: UnitOfWork, person: Person, changes: dict[str, Any]) -> bool:
    """Apply changes to a loaded person and save with compare-and-set. False when nothing changed."""
    unknown = set(changes) - EDITABLE_PERSON_FIELDS
    if unknown:  # the API schemas already forbid these; guard the service contract anyway
        raise invalid((sorted(unknown)[0],), "This field cannot be changed.", "extra_forbidden")
    if all(getattr(person, name) == value for name, value in changes.items()):
        return False
    _guard_admin_flag(ctx, changes.get("is_admin"), person.is_admin)
    if "external_id" in changes and changes["external_id"] != person.external_id:
        await _ensure_external_id_free(uow, changes["external_id"], person.id)
    if "manager_id" in changes and changes["manager_id"] != person.manager_id:
        await _check_manager(uow, person.id, changes["manager_id"])
    expected = person.version
    for name, value in changes.items():
        setattr(person, name, value)
    person.version += 1
    person.updated_at = ctx.clock.now()
    await uow.people.update(person, expected)
    await record(ctx, uow, "person.updated", person, {"changed": sorted(changes)})
    return True


async def update_person(ctx: Context, person_id: UUID, changes: dict[str, Any], expected_version: int | None = None) -> Person:
    ctx.actor.require(Scope.PEOPLE_WRITE)
    async with ctx.uow() as uow:
        person = await _visible_person(ctx, uow, person_id)
        check_if_match(person.version, expected_version)
        if await _apply(ctx, uow, person, changes):
            await uow.commit()
    return person


async def upsert_person(ctx: Context, external_id: str, fields: PersonFields, expected_version: int | None = None) -> tuple[Person, bool]:
    """Create or fully replace the person with this external_id. Returns (person, created)."""
    ctx.actor.require(Scope.PEOPLE_WRITE)
    async with ctx.uow() as uow:
        person = await uow.people.get_by_external_id(external_id)
        if person is None:
            check_if_match(0, expected_version)
            _guard_admin_flag(ctx, fields.is_admin)
            now = ctx.clock.now()
            person = Person(
                id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, external_id=external_id,
                version=1, created_at=now, updated_at=now, **dataclasses.asdict(fields),
            )
            await _check_manager(uow, person.id, person.manager_id)
            await uow.people.add(person)
            await record(ctx, uow, "person.created", person)
            await uow.commit()
            return person, True
        check_if_match(person.version, expected_version)
        if await _apply(ctx, uow, person, dataclasses.asdict(fields)):
            await uow.commit()
        return person, False


@dataclass(frozen=True)
class SkillStanding:
    skill: Skill
    level: int
    evidence: list[Evidence]


async def skill_profile(ctx: Context, person_id: UUID) -> list[SkillStanding]:
    """Per skill: the highest level shown, with the evidence behind it (highest level, newest first)."""
    ctx.actor.require(Scope.PEOPLE_READ)
    async with ctx.uow(readonly=True) as uow:
        await _visible_person(ctx, uow, person_id)
        evidence = await uow.evidence.for_person(person_id)
        skills = await uow.skills.get_many(sorted({item.skill_id for item in evidence}))
    by_skill: dict[UUID, list[Evidence]] = {}
    for item in evidence:
        by_skill.setdefault(item.skill_id, []).append(item)
    standings = []
    for skill_id, items in by_skill.items():
        items.sort(key=lambda item: (item.level, item.created_at), reverse=True)
        standings.append(SkillStanding(skills[skill_id], items[0].level, items))
    standings.sort(key=lambda standing: standing.skill.key)
    return standings
