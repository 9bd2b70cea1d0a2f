"""Use cases for the skill catalogue and the briefs built on it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.domain import access
from app.domain.actors import Scope
from app.domain.briefs import Brief, BriefContent, BriefStatus
from app.domain.errors import NotFound, invalid
from app.domain.pagination import Page, PageRequest
from app.domain.skills import Skill, SkillLevel, normalise_levels
from app.services.context import Context, check_if_match, record, require_found

EDITABLE_SKILL_FIELDS = frozenset({"name", "description", "framework", "framework_ref", "levels"})


@dataclass(frozen=True)
class SkillFields:
    key: str
    name: str
    levels: list[SkillLevel]
    description: str | None = None
    framework: str | None = None
    framework_ref: str | None = None


async def create_skill(ctx: Context, fields: SkillFields) -> Skill:
    ctx.actor.require(Scope.CATALOG_WRITE)
    now = ctx.clock.now()
    skill = Skill(
        id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, key=fields.key, name=fields.name,
        description=fields.description, framework=fields.framework, framework_ref=fields.framework_ref,
        levels=normalise_levels(fields.levels), version=1, created_at=now, updated_at=now,
    )
    async with ctx.uow() as uow:
        await uow.skills.add(skill)
        await record(ctx, uow, "skill.created", skill)
        await uow.commit()
    return skill


async def get_skill(ctx: Context, skill_id: UUID) -> Skill:
    ctx.actor.require(Scope.CATALOG_READ)
    async with ctx.uow(readonly=True) as uow:
        return require_found(await uow.skills.get(skill_id), "skill", skill_id)


async def list_skills(ctx: Context, page: PageRequest) -> Page[Skill]:
    ctx.actor.require(Scope.CATALOG_READ)
    async with ctx.uow(readonly=True) as uow:
        return await uow.skills.list(page)


async def update_skill(ctx: Context, skill_id: UUID, changes: dict[str, Any], expected_version: int | None = None) -> Skill:
    ctx.actor.require(Scope.CATALOG_WRITE)
    unknown = set(changes) - EDITABLE_SKILL_FIELDS
    if unknown:
        raise invalid((sorted(unknown)[0],), "This field cannot be changed.", "extra_forbidden")
    if "levels" in changes:
        changes = {**changes, "levels": normalise_levels(list(changes["levels"]))}
    async with ctx.uow() as uow:
        skill = require_found(await uow.skills.get(skill_id), "skill", skill_id)
        check_if_match(skill.version, expected_version)
        if all(getattr(skill, name) == value for name, value in changes.items()):
            return skill
        expected = skill.version
        for name, value in changes.items():
            setattr(skill, name, value)
        skill.version += 1
        skill.updated_at = ctx.clock.now()
        await uow.skills.update(skill, expected)
        await record(ctx, uow, "skill.updated", skill, {"changed": sorted(changes)})
        await uow.commit()
    return skill


async def create_brief(ctx: Context, content: BriefContent, key: str | None = None) -> Brief:
    ctx.actor.require(Scope.CATALOG_WRITE)
    now = ctx.clock.now()
    brief = Brief(
        id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, content=content, status=BriefStatus.DRAFT,
        revision=1, published_revision=None, published=None, version=1, created_at=now, updated_at=now, key=key,
    )
    async with ctx.uow() as uow:
        content.check(await uow.skills.get(content.skill_id))
        await uow.briefs.add(brief)
        await record(ctx, uow, "brief.created", brief)
        await uow.commit()
    return brief


async def get_brief(ctx: Context, brief_id: UUID) -> Brief:
    ctx.actor.require(Scope.CATALOG_READ)
    async with ctx.uow(readonly=True) as uow:
        brief = require_found(await uow.briefs.get(brief_id), "brief", brief_id)
    if not access.can_see_brief(ctx.actor, brief):
        raise NotFound("brief", brief_id)
    return access.brief_as_seen_by(ctx.actor, brief)


async def list_briefs(
    ctx: Context, page: PageRequest, *, statuses: tuple[BriefStatus, ...] = (), skill_ids: tuple[UUID, ...] = (),
) -> Page[Brief]:
    ctx.actor.require(Scope.CATALOG_READ)
    if ctx.actor.person_id is not None and not ctx.actor.is_admin:  # people see published briefs only
        statuses = tuple(s for s in statuses if s is BriefStatus.PUBLISHED) if statuses else (BriefStatus.PUBLISHED,)
        if not statuses:
            return Page([], None)
    async with ctx.uow(readonly=True) as uow:
        found = await uow.briefs.list(page, statuses=statuses, skill_ids=skill_ids)
    return Page([access.brief_as_seen_by(ctx.actor, brief) for brief in found.items], found.next_after)


async def update_brief(ctx: Context, brief_id: UUID, changes: dict[str, Any], expected_version: int | None = None) -> Brief:
    """`changes` maps BriefContent field names to new values (already parsed)."""
    ctx.actor.require(Scope.CATALOG_WRITE)
    async with ctx.uow() as uow:
        brief = require_found(await uow.briefs.get(brief_id), "brief", brief_id)
        check_if_match(brief.version, expected_version)
        try:
            content = dataclasses.replace(brief.content, **changes)
        except TypeError as exc:  # an unknown field: the API schema forbids it, keep the contract here too
            raise invalid((), str(exc), "extra_forbidden") from exc
        if content == brief.content:
            return brief
        content.check(await uow.skills.get(content.skill_id))
        expected = brief.version
        brief.edit(content)
        brief.version += 1
        brief.updated_at = ctx.clock.now()
        await uow.briefs.update(brief, expected)
        await record(ctx, uow, "brief.updated", brief, {"changed": sorted(changes)})
        await uow.commit()
    return brief


async def publish_brief(ctx: Context, brief_id: UUID, expected_version: int | None = None) -> Brief:
    """Freeze the working copy as the offerable version; publishing it twice changes nothing."""
    return await _brief_step(ctx, brief_id, expected_version, Brief.publish, "brief.published")


async def archive_brief(ctx: Context, brief_id: UUID, expected_version: int | None = None) -> Brief:
    """Stop new offers of the brief; running assignments keep their pinned version."""
    return await _brief_step(ctx, brief_id, expected_version, Brief.archive, "brief.archived")


async def _brief_step(ctx: Context, brief_id: UUID, expected_version: int | None, step, event_type: str) -> Brief:
    ctx.actor.require(Scope.CATALOG_WRITE)
    async with ctx.uow() as uow:
        brief = require_found(await uow.briefs.get(brief_id), "brief", brief_id)
        check_if_match(brief.version, expected_version)
        expected = brief.version
        if not step(brief):
            return brief
        brief.version += 1
        brief.updated_at = ctx.clock.now()
        await uow.briefs.update(brief, expected)
        await record(ctx, uow, event_type, brief, {"revision": brief.revision})
        await uow.commit()
    return brief
