"""Offering many assignments at once, naming briefs and people by id or by their own keys.

Every lookup is one query for the whole batch; the checks are those of a single offer
(`assignments.offer`), item by item. An item whose `external_ref` already exists is reported, never
offered twice: `unchanged` when it names the same brief and assignee, a conflict otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.domain import access
from app.domain.actors import Scope
from app.domain.assignment import Assignment
from app.domain.batch import Item, ItemResult, ItemStatus
from app.domain.briefs import Brief, BriefContent
from app.domain.errors import Conflict, DomainError, InvalidInput, invalid
from app.domain.people import Person
from app.domain.ports import UnitOfWork
from app.services.assignments import Offer, check_reviewer, new_offer, offerable_content, refused_offer, require_assignee
from app.services.batch import first_seen, run
from app.services.context import Context, record


@dataclass(frozen=True)
class OfferRecord:
    """One offer of a batch: each of brief, assignee and (optional) reviewer by id or by key."""

    brief_id: UUID | None = None
    brief_key: str | None = None
    assignee_id: UUID | None = None
    assignee_external_id: str | None = None
    reviewer_id: UUID | None = None
    reviewer_external_id: str | None = None
    context_note: str | None = None
    offer_expires_at: datetime | None = None
    external_ref: str | None = None


async def offer_many(ctx: Context, items: list[Item[OfferRecord]], *, dry_run: bool = False) -> list[ItemResult]:
    ctx.actor.require(Scope.ASSIGNMENTS_WRITE)
    return await run(ctx, apply_offers, items, dry_run=dry_run)


async def apply_offers(ctx: Context, uow: UnitOfWork, items: list[Item[OfferRecord]]) -> list[ItemResult]:
    ctx.actor.require(Scope.ASSIGNMENTS_WRITE)
    results: dict[int, ItemResult] = {}
    with_ref = [i for i in items if i.record.external_ref is not None]
    first_seen(with_ref, lambda r: r.external_ref, results, "external_ref")
    live = [i for i in items if i.index not in results]
    records = [i.record for i in live]

    taken = await uow.assignments.by_external_refs(sorted({r.external_ref for r in records if r.external_ref}))
    briefs = await uow.briefs.get_many(sorted({r.brief_id for r in records if r.brief_id}))
    briefs_by_key = await uow.briefs.by_keys(sorted({r.brief_key for r in records if r.brief_key}))
    people = await uow.people.get_many(sorted({i for r in records for i in (r.assignee_id, r.reviewer_id) if i}))
    by_external = await uow.people.by_external_ids(
        sorted({e for r in records for e in (r.assignee_external_id, r.reviewer_external_id) if e}),
    )
    people.update({p.id: p for p in by_external.values()})
    managers = sorted({p.manager_id for p in people.values() if p.manager_id and p.manager_id not in people})
    people.update(await uow.people.get_many(managers))
    me = ctx.actor.person_id
    offered_to = {a.assignee_id for a in taken.values()}
    edges = await uow.people.manager_edges(sorted({*people, *offered_to, *([me] if me else [])})) if me is not None else {}

    now = ctx.clock.now()
    created = []
    offerable: dict[UUID, BriefContent | DomainError] = {}  # each brief checked once, not once per offer
    for candidate in (*briefs.values(), *briefs_by_key.values()):
        try:
            offerable[candidate.id] = offerable_content(ctx, candidate, candidate.id)
        except DomainError as exc:
            offerable[candidate.id] = exc
    for item in live:
        rec = item.record
        try:
            existing = taken.get(rec.external_ref) if rec.external_ref else None
            brief = briefs.get(rec.brief_id) if rec.brief_id else briefs_by_key.get(rec.brief_key or "")
            assignee = people.get(rec.assignee_id) if rec.assignee_id else by_external.get(rec.assignee_external_id or "")
            if existing is not None:
                seen_as = access.standing(ctx.actor, existing, _chain(existing.assignee_id, edges))
                if seen_as is not access.INTEGRATION and not seen_as.visible:  # never confirm what the caller cannot see
                    raise Conflict(f"external_ref '{rec.external_ref}' is already in use.", code="assignment.external_ref_taken")
                results[item.index] = _already_offered(
                    item.index, existing.id, existing.brief_id, existing.assignee_id, rec, brief, assignee,
                )
                continue
            assignment = _offer(ctx, now, rec, brief, assignee, people, by_external, edges, offerable, me)
        except DomainError as exc:
            results[item.index] = ItemResult.failed(item.index, exc)
            continue
        created.append(assignment)
        results[item.index] = ItemResult(item.index, ItemStatus.CREATED, assignment.id)
    await uow.assignments.add_many(created)
    for assignment in created:  # new objects, changed no more here: no snapshot needed
        await record(ctx, uow, "assignment.offered", assignment, snapshot=False, at=now)
    return [results[item.index] for item in items]


def _offer(
    ctx: Context, now: datetime, rec: OfferRecord, brief: Brief | None, assignee: Person | None,
    people: dict[UUID, Person], by_external: dict[str, Person], edges: dict[UUID, UUID | None],
    offerable: dict[UUID, BriefContent | DomainError], me: UUID | None,
) -> Assignment:
    brief_field, brief_ref = ("brief_id", rec.brief_id) if rec.brief_id else ("brief_key", rec.brief_key)
    content = offerable.get(brief.id) if brief is not None else None
    if content is None or isinstance(content, InvalidInput):
        raise invalid((brief_field,), f"No brief with {brief_field} {brief_ref}.", "unknown_brief", code="assignment.unknown_brief")
    if isinstance(content, DomainError):
        raise content.with_traceback(None)  # the brief's refusal, the same for each of its offers
    assignee_field, assignee_ref = (
        ("assignee_id", rec.assignee_id) if rec.assignee_id else ("assignee_external_id", rec.assignee_external_id)
    )
    assignee = require_assignee(assignee, assignee_ref, assignee_field)
    if me is not None:  # a person offering: only to people below them
        chain = _chain(assignee.id, edges)
        if not access.can_offer_to(ctx.actor, chain):
            visible = ctx.actor.is_admin or assignee.id == me or me in chain or assignee.id in _chain(me, edges)
            raise refused_offer(visible, assignee_ref, assignee_field)
    if rec.reviewer_id or rec.reviewer_external_id:
        reviewer_field = "reviewer_id" if rec.reviewer_id else "reviewer_external_id"
        reviewer_ref = rec.reviewer_id or rec.reviewer_external_id
        reviewer = people.get(rec.reviewer_id) if rec.reviewer_id else by_external.get(rec.reviewer_external_id or "")
        reviewer_id = reviewer.id if reviewer else None
    else:
        reviewer_field, reviewer_ref, reviewer_id = "reviewer_id", None, assignee.manager_id
        reviewer = people.get(reviewer_id) if reviewer_id else None
    check_reviewer(assignee, reviewer_ref, reviewer_id, reviewer, reviewer_field)
    request = Offer(brief.id, assignee.id, reviewer_id, rec.context_note, rec.offer_expires_at, rec.external_ref)  # type: ignore[union-attr]
    return new_offer(ctx, now, request, brief, content, assignee, reviewer.id)  # type: ignore[arg-type, union-attr]


def _already_offered(
    index: int, existing_id: UUID, brief_id: UUID, assignee_id: UUID, rec: OfferRecord, brief: Brief | None, assignee: Person | None,
) -> ItemResult:
    """An offer under an external_ref that exists: the same offer again is unchanged; another one is a conflict."""
    if brief is not None and assignee is not None and brief.id == brief_id and assignee.id == assignee_id:
        return ItemResult(index, ItemStatus.UNCHANGED, existing_id)
    raise Conflict(
        f"An assignment with external_ref '{rec.external_ref}' already exists ({existing_id}) for another brief or assignee.",
        code="assignment.external_ref_taken", existing_id=str(existing_id),
    )


def _chain(person_id: UUID, edges: dict[UUID, UUID | None]) -> list[UUID]:
    """The managers above a person, nearest first, from the edges loaded for the batch."""
    chain: list[UUID] = []
    current = edges.get(person_id)
    while current is not None and current not in chain and current != person_id:
        chain.append(current)
        current = edges.get(current)
    return chain
