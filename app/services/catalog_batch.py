"""Upserting many skills (by key) and briefs (by key) at once; each item stands or fails on its own."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.domain.actors import Scope
from app.domain.batch import Item, ItemResult, ItemStatus
from app.domain.briefs import Brief, BriefContent, BriefStatus
from app.domain.errors import DomainError, invalid
from app.domain.ports import UnitOfWork
from app.domain.skills import Skill, normalise_levels
from app.services.batch import first_seen, run
from app.services.catalog import EDITABLE_SKILL_FIELDS
from app.services.context import Context, record


# -- skills ---------------------------------------------------------------------
@dataclass(frozen=True)
class SkillRecord:
    """`fields`: only what the item sent (name, description, framework, framework_ref, levels)."""

    key: str
    fields: dict[str, Any]


async def upsert_skills(ctx: Context, items: list[Item[SkillRecord]], *, dry_run: bool = False) -> list[ItemResult]:
    ctx.actor.require(Scope.CATALOG_WRITE)
    return await run(ctx, apply_skills, items, dry_run=dry_run)


async def apply_skills(ctx: Context, uow: UnitOfWork, items: list[Item[SkillRecord]]) -> list[ItemResult]:
    ctx.actor.require(Scope.CATALOG_WRITE)
    results: dict[int, ItemResult] = {}
    live = first_seen(items, lambda r: r.key, results)
    existing = await uow.skills.by_keys(list(live), lock=True)
    now = ctx.clock.now()
    creates: list[Skill] = []
    updates: list[tuple[Skill, list[str]]] = []
    for key, item in live.items():
        fields = dict(item.record.fields)
        try:
            if set(fields) - EDITABLE_SKILL_FIELDS:
                raise invalid((sorted(set(fields) - EDITABLE_SKILL_FIELDS)[0],), "This field cannot be set.", "extra_forbidden")
            if "levels" in fields:
                fields["levels"] = normalise_levels(list(fields["levels"]))
            before = existing.get(key)
            if before is None:
                missing = [name for name in ("name", "levels") if name not in fields]
                if missing:
                    raise invalid((missing[0],), f"A new skill needs {' and '.join(missing)}.", "missing", code="skill.fields_required")
                skill = Skill(
                    id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, key=key, version=1, created_at=now, updated_at=now,
                    **{"description": None, "framework": None, "framework_ref": None, **fields},
                )
                creates.append(skill)
                results[item.index] = ItemResult(item.index, ItemStatus.CREATED, skill.id)
                continue
            changed = sorted(name for name, value in fields.items() if getattr(before, name) != value)
            if not changed:
                results[item.index] = ItemResult(item.index, ItemStatus.UNCHANGED, before.id)
                continue
            skill = dataclasses.replace(before, **fields, version=before.version + 1, updated_at=now)
            updates.append((skill, changed))
            results[item.index] = ItemResult(item.index, ItemStatus.UPDATED, skill.id)
        except DomainError as exc:
            results[item.index] = ItemResult.failed(item.index, exc)
    await uow.skills.add_many(creates)
    await uow.skills.update_many([skill for skill, _ in updates])
    for skill in creates:
        await record(ctx, uow, "skill.created", skill)
    for skill, changed in updates:
        await record(ctx, uow, "skill.updated", skill, {"changed": changed})
    return [results[item.index] for item in items]


# -- briefs ---------------------------------------------------------------------
CONTENT_FIELDS = frozenset(f.name for f in dataclasses.fields(BriefContent))


@dataclass(frozen=True)
class BriefRecord:
    """`fields`: only the BriefContent fields the item sent (already parsed); the skill may be named by
    `skill_key` instead of `fields["skill_id"]`. `publish` freezes the result as the offerable version."""

    key: str
    fields: dict[str, Any]
    skill_key: str | None = None
    publish: bool = False


async def upsert_briefs(ctx: Context, items: list[Item[BriefRecord]], *, dry_run: bool = False) -> list[ItemResult]:
    ctx.actor.require(Scope.CATALOG_WRITE)
    return await run(ctx, apply_briefs, items, dry_run=dry_run)


async def apply_briefs(ctx: Context, uow: UnitOfWork, items: list[Item[BriefRecord]]) -> list[ItemResult]:
    ctx.actor.require(Scope.CATALOG_WRITE)
    results: dict[int, ItemResult] = {}
    live = first_seen(items, lambda r: r.key, results)
    existing = await uow.briefs.by_keys(list(live), lock=True)
    skills_by_key = await uow.skills.by_keys(sorted({i.record.skill_key for i in live.values() if i.record.skill_key}))
    wanted_ids = {i.record.fields["skill_id"] for i in live.values() if "skill_id" in i.record.fields}
    wanted_ids |= {b.content.skill_id for b in existing.values()}
    skills = {**await uow.skills.get_many(sorted(wanted_ids)), **{s.id: s for s in skills_by_key.values()}}
    now = ctx.clock.now()
    creates: list[Brief] = []
    updates: list[tuple[Brief, dict[str, Any]]] = []
    for key, item in live.items():
        try:
            brief, details = _brief_target(ctx, item.record, existing.get(key), skills_by_key, skills, now)
        except DomainError as exc:
            results[item.index] = ItemResult.failed(item.index, exc)
            continue
        if key not in existing:
            creates.append(brief)
            results[item.index] = ItemResult(item.index, ItemStatus.CREATED, brief.id)
        elif details is None:
            results[item.index] = ItemResult(item.index, ItemStatus.UNCHANGED, brief.id)
        else:
            updates.append((brief, details))
            results[item.index] = ItemResult(item.index, ItemStatus.UPDATED, brief.id)
    await uow.briefs.add_many(creates)
    await uow.briefs.update_many([brief for brief, _ in updates])
    for brief in creates:
        await record(ctx, uow, "brief.created", brief)
        if brief.status is BriefStatus.PUBLISHED:
            await record(ctx, uow, "brief.published", brief, {"revision": brief.revision})
    for brief, details in updates:
        if details.get("changed"):
            await record(ctx, uow, "brief.updated", brief, {"changed": details["changed"]})
        if details.get("published"):
            await record(ctx, uow, "brief.published", brief, {"revision": brief.revision})
    return [results[item.index] for item in items]


def _brief_target(
    ctx: Context, rec: BriefRecord, before: Brief | None, skills_by_key: dict[str, Skill], skills: dict[UUID, Skill], now: Any,
) -> tuple[Brief, dict[str, Any] | None]:
    """The brief as the item leaves it, and what happened (None: nothing changed)."""
    fields = dict(rec.fields)
    unknown = set(fields) - CONTENT_FIELDS
    if unknown:
        raise invalid((sorted(unknown)[0],), "This field cannot be set.", "extra_forbidden")
    if rec.skill_key is not None:
        skill = skills_by_key.get(rec.skill_key)
        if skill is None:
            raise invalid(("skill_key",), f"No skill with key '{rec.skill_key}'.", "unknown_skill", code="brief.unknown_skill")
        fields["skill_id"] = skill.id
    if before is None:
        missing = [name for name in ("title", "instructions", "skill_id", "target_level", "timebox", "rubric") if name not in fields]
        if missing:
            loc = "skill_key" if missing[0] == "skill_id" else missing[0]
            raise invalid((loc,), f"A new brief needs {', '.join(missing)}.", "missing", code="brief.fields_required")
        content = BriefContent(**fields)
        content.check(skills.get(content.skill_id))
        brief = Brief(
            id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, content=content, status=BriefStatus.DRAFT,
            revision=1, published_revision=None, published=None, version=1, created_at=now, updated_at=now, key=rec.key,
        )
        if rec.publish:
            brief.publish()
        return brief, {}
    brief = dataclasses.replace(before)
    content = dataclasses.replace(before.content, **fields)
    changed = sorted(name for name in fields if getattr(before.content, name) != getattr(content, name))
    if changed:
        content.check(skills.get(content.skill_id))
        brief.edit(content)
    published = brief.publish() if rec.publish else False
    if not changed and not published:
        return brief, None
    brief.version, brief.updated_at = before.version + 1, now
    return brief, {"changed": changed, "published": published}
