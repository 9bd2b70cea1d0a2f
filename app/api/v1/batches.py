"""POST /v1/{people,skills,briefs,assignments}/batch: up to 1,000 items, each processed on its own.

The items are validated here one at a time (a bad one becomes that item's problem, not a 422 for
the request); the use case applies the rest in one transaction and says what became of each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from pydantic_core import to_json

from app.api.deps import Ctx
from app.api.errors import domain_problem
from app.api.problems import problem_responses
from app.api.schemas.batch import (
    BatchOut,
    BriefBatchItem,
    BriefsBatchIn,
    OfferBatchItem,
    OffersBatchIn,
    PeopleBatchIn,
    PersonBatchItem,
    SkillBatchItem,
    SkillsBatchIn,
    validate_items,
)
from app.domain.batch import MAX_BATCH_ITEMS, ItemResult, ItemStatus, TooManyItems
from app.domain.errors import DomainError
from app.services import assignments_batch, catalog_batch, people_batch
from app.services.context import Context

router = APIRouter()

DryRun = Annotated[bool, Query(description="Check every item as if for real, and write nothing.")]
RESPONSES = problem_responses(400, 403, 413, 415, 422)
DESCRIPTION = (
    "Answers 200 with one result per item, in request order: `created`, `updated`, `unchanged`, or `error` "
    "with the item's problem details. One bad item never blocks the others. More than 1,000 items is a 413, "
    "before anything is written. Send an `Idempotency-Key` so a retried batch is answered, not applied, again."
)

Service = Callable[..., Awaitable[list[ItemResult]]]


async def run_batch(ctx: Context, request: Request, raw_items: list[Any], model: type[BaseModel], service: Service,
    dry_run: bool) -> Response:
    """The answer is written straight to JSON (the shape of BatchOut, which documents it): a thousand
    results built as models and then validated again by FastAPI cost more than the batch's own checks."""
    if len(raw_items) > MAX_BATCH_ITEMS:
        raise TooManyItems(len(raw_items))
    instance = request.url.path
    items, problems = validate_items(enumerate(raw_items), model, instance)
    applied = {r.index: r for r in await service(ctx, items, dry_run=dry_run)}
    results = []
    counts = dict.fromkeys(ItemStatus, 0)
    for index in range(len(raw_items)):
        problem: dict[str, Any] | None
        if index in problems:
            status, shown_id, problem = ItemStatus.ERROR, None, problems[index]
        else:
            done = applied[index]
            status = done.status
            problem = domain_problem(done.error, instance) if isinstance(done.error, DomainError) else None
            shown_id = None if dry_run and status is ItemStatus.CREATED else done.id
        counts[status] += 1
        results.append({"index": index, "status": status, "id": shown_id, "problem": problem})
    body = {"results": results, "counts": {k.value: v for k, v in counts.items()}, "dry_run": dry_run}
    return Response(to_json(body), media_type="application/json")


@router.post("/v1/people/batch", tags=["people"], operation_id="batch_upsert_people",
             summary="Create or update many people by external_id", description=DESCRIPTION, responses=RESPONSES, response_model=BatchOut)
async def batch_upsert_people(ctx: Ctx, body: PeopleBatchIn, request: Request, dry_run: DryRun = False) -> Response:
    return await run_batch(ctx, request, body.items, PersonBatchItem, people_batch.upsert_people, dry_run)


@router.post("/v1/skills/batch", tags=["skills"], operation_id="batch_upsert_skills",
             summary="Create or update many skills by key", description=DESCRIPTION, responses=RESPONSES, response_model=BatchOut)
async def batch_upsert_skills(ctx: Ctx, body: SkillsBatchIn, request: Request, dry_run: DryRun = False) -> Response:
    return await run_batch(ctx, request, body.items, SkillBatchItem, catalog_batch.upsert_skills, dry_run)


@router.post("/v1/briefs/batch", tags=["briefs"], operation_id="batch_upsert_briefs",
             summary="Create or update many briefs by key, optionally publishing them",
             description=DESCRIPTION, responses=RESPONSES, response_model=BatchOut)
async def batch_upsert_briefs(ctx: Ctx, body: BriefsBatchIn, request: Request, dry_run: DryRun = False) -> Response:
    return await run_batch(ctx, request, body.items, BriefBatchItem, catalog_batch.upsert_briefs, dry_run)


@router.post("/v1/assignments/batch", tags=["assignments"], operation_id="batch_offer_assignments",
             summary="Offer many assignments", description=DESCRIPTION, responses=RESPONSES, response_model=BatchOut)
async def batch_offer_assignments(ctx: Ctx, body: OffersBatchIn, request: Request, dry_run: DryRun = False) -> Response:
    return await run_batch(ctx, request, body.items, OfferBatchItem, assignments_batch.offer_many, dry_run)
