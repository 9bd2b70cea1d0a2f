"""/v1/skills and /v1/briefs"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.api.deps import Ctx, IfMatch, Paging, page_body, set_etag
from app.api.problems import problem_responses
from app.api.schemas.catalog import BriefCreate, BriefList, BriefOut, BriefUpdate, SkillCreate, SkillList, SkillOut, SkillUpdate
from app.domain.briefs import BriefStatus
from app.domain.skills import SkillLevel
from app.services import catalog
from app.services.catalog import SkillFields

skills = APIRouter(prefix="/v1/skills", tags=["skills"])
briefs = APIRouter(prefix="/v1/briefs", tags=["briefs"])

SkillId = Annotated[UUID, Path(description="The skill's id.")]
BriefId = Annotated[UUID, Path(description="The brief's id.")]


@skills.post("", status_code=status.HTTP_201_CREATED, operation_id="create_skill", summary="Add a skill to the catalogue",
             responses=problem_responses(400, 403, 409, 415, 422))
async def create_skill(ctx: Ctx, body: SkillCreate, response: Response) -> SkillOut:
    data = body.model_dump()
    data["levels"] = [SkillLevel(**level) for level in data["levels"]]
    skill = await catalog.create_skill(ctx, SkillFields(**data))
    set_etag(response, skill.version)
    response.headers["Location"] = f"/v1/skills/{skill.id}"
    return SkillOut.of(skill)


@skills.get("", operation_id="list_skills", summary="List the skill catalogue", responses=problem_responses(400, 403, 422))
async def list_skills(ctx: Ctx, paging: Paging, request: Request, response: Response) -> SkillList:
    page = await catalog.list_skills(ctx, paging)
    return SkillList(**page_body(request, response, page, [SkillOut.of(s) for s in page.items]))


@skills.get("/{skill_id}", operation_id="get_skill", summary="Get a skill", responses=problem_responses(403, 404, 422))
async def get_skill(ctx: Ctx, skill_id: SkillId, response: Response) -> SkillOut:
    skill = await catalog.get_skill(ctx, skill_id)
    set_etag(response, skill.version)
    return SkillOut.of(skill)


@skills.patch("/{skill_id}", operation_id="update_skill", summary="Change some fields of a skill",
              responses=problem_responses(400, 403, 404, 409, 412, 415, 422))
async def update_skill(ctx: Ctx, skill_id: SkillId, body: SkillUpdate, if_match: IfMatch, response: Response) -> SkillOut:
    skill = await catalog.update_skill(ctx, skill_id, body.changes(), if_match)
    set_etag(response, skill.version)
    return SkillOut.of(skill)


@briefs.post("", status_code=status.HTTP_201_CREATED, operation_id="create_brief", summary="Create a draft brief",
             responses=problem_responses(400, 403, 409, 415, 422))
async def create_brief(ctx: Ctx, body: BriefCreate, response: Response) -> BriefOut:
    brief = await catalog.create_brief(ctx, body.content(), key=body.key)
    set_etag(response, brief.version)
    response.headers["Location"] = f"/v1/briefs/{brief.id}"
    return BriefOut.of(brief)


@briefs.get("", operation_id="list_briefs", summary="List briefs", responses=problem_responses(400, 403, 422))
async def list_briefs(
    ctx: Ctx, paging: Paging, request: Request, response: Response,
    status_: Annotated[list[BriefStatus] | None, Query(alias="status", description="Any of these statuses.")] = None,
    skill_id: Annotated[list[UUID] | None, Query(description="Any of these skills.")] = None,
) -> BriefList:
    page = await catalog.list_briefs(ctx, paging, statuses=tuple(status_ or ()), skill_ids=tuple(skill_id or ()))
    return BriefList(**page_body(request, response, page, [BriefOut.of(b) for b in page.items]))


@briefs.get("/{brief_id}", operation_id="get_brief", summary="Get a brief", responses=problem_responses(403, 404, 422))
async def get_brief(ctx: Ctx, brief_id: BriefId, response: Response) -> BriefOut:
    brief = await catalog.get_brief(ctx, brief_id)
    set_etag(response, brief.version)
    return BriefOut.of(brief)


@briefs.patch("/{brief_id}", operation_id="update_brief", summary="Edit a brief",
              description="A draft changes in place; editing the published revision starts a new draft revision, "
                          "while offers keep pinning the published one until it is published again.",
              responses=problem_responses(400, 403, 404, 409, 412, 415, 422))
async def update_brief(ctx: Ctx, brief_id: BriefId, body: BriefUpdate, if_match: IfMatch, response: Response) -> BriefOut:
    brief = await catalog.update_brief(ctx, brief_id, body.changes(), if_match)
    set_etag(response, brief.version)
    return BriefOut.of(brief)


@briefs.post("/{brief_id}/publish", operation_id="publish_brief", summary="Publish the brief's current revision",
             description="Freezes the revision shown as the one new offers pin. Publishing it again changes nothing.",
             responses=problem_responses(403, 404, 409, 412, 422))
async def publish_brief(ctx: Ctx, brief_id: BriefId, if_match: IfMatch, response: Response) -> BriefOut:
    brief = await catalog.publish_brief(ctx, brief_id, if_match)
    set_etag(response, brief.version)
    return BriefOut.of(brief)


@briefs.post("/{brief_id}/archive", operation_id="archive_brief", summary="Archive a brief: no new offers",
             responses=problem_responses(403, 404, 412, 422))
async def archive_brief(ctx: Ctx, brief_id: BriefId, if_match: IfMatch, response: Response) -> BriefOut:
    brief = await catalog.archive_brief(ctx, brief_id, if_match)
    set_etag(response, brief.version)
    return BriefOut.of(brief)
