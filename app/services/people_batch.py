"""Upserting many people at once by external_id, with managers named anywhere in the same batch.

A batch is one transaction of a few statements, whatever its size: every lookup is one query for
all items, and writes go out as one executemany. Each item stands or fails on its own.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from app.domain.actors import Scope
from app.domain.batch import Item, ItemResult, ItemStatus
from app.domain.errors import DomainError, PermissionDenied, invalid
from app.domain.people import EDITABLE_PERSON_FIELDS, Person
from app.domain.ports import UnitOfWork
from app.services.batch import first_seen, run
from app.services.context import Context, record

PERSON_DEFAULTS: dict[str, Any] = {"email": None, "team": None, "title": None, "active": True, "is_admin": False}


@dataclass(frozen=True)
class PersonRecord:
    """One person of a batch. `fields` holds only what the item sent: on an existing person the rest is
    kept, on a new one it takes its default. The manager is `manager_id` or `manager_external_id`."""

    external_id: str
    fields: dict[str, Any]
    manager_external_id: str | None = None
    manager_id: UUID | None = None
    manager_given: bool = False
    """False: keep the current manager (none, for a new person). True with both ids None: no manager."""


async def upsert_people(ctx: Context, items: list[Item[PersonRecord]], *, dry_run: bool = False) -> list[ItemResult]:
    ctx.actor.require(Scope.PEOPLE_WRITE)
    return await run(ctx, apply_people, items, dry_run=dry_run)


async def apply_people(ctx: Context, uow: UnitOfWork, items: list[Item[PersonRecord]]) -> list[ItemResult]:
    """Apply the items in the caller's unit of work (which commits): one result per item, in order."""
    ctx.actor.require(Scope.PEOPLE_WRITE)
    results: dict[int, ItemResult] = {}
    live = first_seen(items, lambda r: r.external_id, results, "external_id")
    if any(i.record.manager_given for i in live.values()):
        # First, as a single change of manager does: the loop check below then sees no reporting line
        # move under it, and every writer takes the locks in the same order (hierarchy, then people).
        await uow.people.lock_hierarchy()
    existing = await uow.people.by_external_ids(list(live), lock=True)
    now = ctx.clock.now()

    # Everyone the batch names as a manager, by either id, found in one query each.
    outside = sorted({r.manager_external_id for r in (i.record for i in live.values())
                      if r.manager_external_id is not None and r.manager_external_id not in live})
    by_external = await uow.people.by_external_ids(outside)
    by_id = await uow.people.get_many(sorted({i.record.manager_id for i in live.values() if i.record.manager_id is not None}))

    # The person each item would leave behind (ids fixed now, so managers inside the batch resolve).
    target: dict[str, Person] = {}
    for external_id, item in live.items():
        try:
            target[external_id] = _target(ctx, existing.get(external_id), item.record, now)
        except DomainError as exc:
            results[item.index] = ItemResult.failed(item.index, exc)
    ids_in_batch = {external_id: person.id for external_id, person in target.items()}

    def manager_of(record: PersonRecord, person: Person) -> UUID | None:
        if record.manager_external_id is not None:
            known = by_external.get(record.manager_external_id) or existing.get(record.manager_external_id)
            found = ids_in_batch.get(record.manager_external_id) or getattr(known, "id", None)
            if found is None:
                raise invalid(("manager_external_id",), f"No person with external_id '{record.manager_external_id}'.",
                              "unknown_person", code="person.unknown_manager")
            return found
        if record.manager_id is not None:
            if record.manager_id not in by_id and record.manager_id not in ids_in_batch.values():
                raise invalid(("manager_id",), f"No person with id {record.manager_id}.", "unknown_person", code="person.unknown_manager")
            return record.manager_id
        return None if record.manager_given else person.manager_id

    for external_id in list(target):
        item = live[external_id]
        try:
            target[external_id].manager_id = manager_of(item.record, target[external_id])
        except DomainError as exc:
            results[item.index] = ItemResult.failed(item.index, exc)
            del target[external_id]
    await _settle(uow, live, target, existing, results)

    creates, updates, changed_fields = [], [], {}
    for external_id, person in target.items():
        before = existing.get(external_id)
        if before is None:
            creates.append(person)
            results[live[external_id].index] = ItemResult(live[external_id].index, ItemStatus.CREATED, person.id)
            continue
        changed = sorted(name for name in EDITABLE_PERSON_FIELDS if getattr(before, name) != getattr(person, name))
        if not changed:
            results[live[external_id].index] = ItemResult(live[external_id].index, ItemStatus.UNCHANGED, person.id)
            continue
        person.version, person.updated_at = before.version + 1, now
        updates.append(person)
        changed_fields[person.id] = changed
        results[live[external_id].index] = ItemResult(live[external_id].index, ItemStatus.UPDATED, person.id)

    await uow.people.add_many(_managers_first(creates))
    await uow.people.update_many(updates)
    for person in creates:  # written as they are and changed no more here: no snapshot needed
        await record(ctx, uow, "person.created", person, snapshot=False, at=now)
    for person in updates:
        await record(ctx, uow, "person.updated", person, {"changed": changed_fields[person.id]}, snapshot=False, at=now)
    return [results[item.index] for item in items]


def _target(ctx: Context, before: Person | None, record: PersonRecord, now: Any) -> Person:
    unknown = set(record.fields) - (EDITABLE_PERSON_FIELDS - {"external_id", "manager_id"})
    if unknown:  # the API schemas already refuse these; keep the service contract too
        raise invalid((sorted(unknown)[0],), "This field cannot be set here.", "extra_forbidden")
    if before is None:
        if "display_name" not in record.fields:
            raise invalid(("display_name",), "A new person needs a display_name.", "missing", code="person.display_name_required")
        fields = {**PERSON_DEFAULTS, **record.fields}
        if fields["is_admin"] and not ctx.actor.is_admin:
            raise _admin_only()
        return Person(
            id=ctx.ids.new_id(), tenant_id=ctx.actor.tenant_id, external_id=record.external_id, manager_id=None,
            version=1, created_at=now, updated_at=now, **fields,
        )
    if "is_admin" in record.fields and record.fields["is_admin"] != before.is_admin and not ctx.actor.is_admin:
        raise _admin_only()
    return dataclasses.replace(before, **record.fields)


def _admin_only() -> PermissionDenied:
    return PermissionDenied("Only a tenant admin may change is_admin.", code="forbidden.admin_only")


async def _settle(
    uow: UnitOfWork, live: dict[str, Item[PersonRecord]], target: dict[str, Person], existing: dict[str, Person],
    results: dict[int, ItemResult],
) -> None:
    """Refuse, until none is left, every item whose manager chain would loop back to itself, and every
    item whose manager is a new person refused in this batch. Chains run through the batch's people as
    they would be and the stored people above them (fetched in one query)."""
    if not any(p.manager_id is not None for p in target.values()):
        return
    stored = await uow.people.manager_edges(sorted({p.manager_id for p in target.values() if p.manager_id is not None}))
    stored_ids = set(stored) | {p.id for p in existing.values()}

    def refuse(external_id: str, error: DomainError) -> None:
        index = live[external_id].index
        results[index] = ItemResult.failed(index, error)
        del target[external_id]

    while True:
        edges = dict(stored)
        edges.update({p.id: p.manager_id for p in existing.values()})  # a refused item keeps its stored manager
        edges.update({p.id: p.manager_id for p in target.values()})
        present = stored_ids | {p.id for p in target.values()}
        orphans = [e for e, p in target.items() if p.manager_id is not None and p.manager_id not in present]
        for external_id in orphans:
            refuse(external_id, invalid(
                ("manager_external_id",), "The manager named is refused in this batch (see that item).", "unknown_person",
                code="person.unknown_manager",
            ))
        looping = [e for e, p in target.items() if _loops(p.id, edges)]
        for external_id in looping:
            refuse(external_id, invalid(
                ("manager_external_id",), "A person cannot be managed by themselves or by someone who reports to them.",
                "manager_cycle", code="person.manager_cycle",
            ))
        if not orphans and not looping:
            return


def _loops(start: UUID, edges: dict[UUID, UUID | None]) -> bool:
    seen, current = {start}, edges.get(start)
    while current is not None:
        if current in seen:
            return current == start
        seen.add(current)
        current = edges.get(current)
    return False


def _managers_first(people: list[Person]) -> list[Person]:
    """New people ordered so that a manager created in this batch is inserted before their reports."""
    by_id = {p.id: p for p in people}
    placed: set[UUID] = set()
    ordered: list[Person] = []

    def place(person: Person) -> None:
        chain = []
        while person.id not in placed:
            chain.append(person)
            manager = by_id.get(person.manager_id) if person.manager_id is not None else None
            if manager is None or manager.id in placed or manager in chain:
                break
            person = manager
        for member in reversed(chain):
            if member.id not in placed:
                placed.add(member.id)
                ordered.append(member)

    for person in people:
        place(person)
    return ordered
