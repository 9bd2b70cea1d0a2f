"""/v1/people"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response, status

from app.api.deps import Ctx, IfMatch, Paging, page_body, set_etag
from app.api.problems import problem_responses
from app.api.schemas.common import ExternalId
from app.api.schemas.people import PersonCreate, PersonList, PersonOut, PersonUpdate, PersonUpsert, SkillProfileOut, SkillStandingOut
from app.services import people

router = APIRouter(prefix="/v1/people", tags=["people"])

PersonId = Annotated[UUID, Path(description="The person's id.")]


@router.post(
    "", status_code=status.HTTP_201_CREATED, operation_id="create_person", summary="Create a person",
    responses=problem_responses(400, 403, 409, 415, 422),
)
async def create_person(ctx: Ctx, body: PersonCreate, response: Response) -> PersonOut:
    person = await people.create_person(ctx, body.external_id, body.fields())
    set_etag(response, person.version)
    response.headers["Location"] = f"/v1/people/{person.id}"
    return PersonOut.of(person)


@router.get("", operation_id="list_people", summary="List people", responses=problem_responses(400, 403, 422))
async def list_people(
    ctx: Ctx, paging: Paging, request: Request, response: Response,
    manager_id: Annotated[UUID | None, Query(description="Only direct reports of this person.")] = None,
    active: Annotated[bool | None, Query()] = None,
) -> PersonList:
    page = await people.list_people(ctx, paging, manager_id=manager_id, active=active)
    return PersonList(**page_body(request, response, page, [PersonOut.of(p) for p in page.items]))


@router.get("/{person_id}", operation_id="get_person", summary="Get a person", responses=problem_responses(403, 404, 422))
async def get_person(ctx: Ctx, person_id: PersonId, response: Response) -> PersonOut:
    person = await people.get_person(ctx, person_id)
    set_etag(response, person.version)
    return PersonOut.of(person)


@router.patch(
    "/{person_id}", operation_id="update_person", summary="Change some fields of a person",
    responses=problem_responses(400, 403, 404, 409, 412, 415, 422),
)
async def update_person(ctx: Ctx, person_id: PersonId, body: PersonUpdate, if_match: IfMatch, response: Response) -> PersonOut:
    person = await people.update_person(ctx, person_id, body.changes(), if_match)
    set_etag(response, person.version)
    return PersonOut.of(person)


@router.put(
    "/by-external-id/{external_id}", operation_id="upsert_person",
    summary="Create or replace a person by the HRIS's external_id",
    description="201 when the person was created, 200 when an existing one was replaced (or was already equal).",
    responses={201: {"description": "Created", "model": PersonOut}, **problem_responses(400, 403, 409, 412, 415, 422)},
)
async def upsert_person(
    ctx: Ctx, external_id: Annotated[ExternalId, Path()], body: PersonUpsert, if_match: IfMatch, response: Response
) -> PersonOut:
    person, created = await people.upsert_person(ctx, external_id, body.fields(), if_match)
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/v1/people/{person.id}"
    set_etag(response, person.version)
    return PersonOut.of(person)


@router.get(
    "/{person_id}/skills", operation_id="get_skill_profile", summary="A person's skills, shown by passed reviews",
    responses=problem_responses(403, 404, 422),
)
async def get_skill_profile(ctx: Ctx, person_id: PersonId) -> SkillProfileOut:
    standings = await people.skill_profile(ctx, person_id)
    return SkillProfileOut(person_id=person_id, skills=[SkillStandingOut.of(s) for s in standings])
