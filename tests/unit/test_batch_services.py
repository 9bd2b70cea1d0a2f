"""Batch use cases on the in-memory fakes: managers across a batch, loops refused, one item never blocking another."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from app.domain.batch import Item, ItemStatus
from app.domain.imports import ImportFormat, ImportKind, ImportRow, ImportState
from app.domain.pagination import PageRequest
from app.repositories.memory import MemoryDatabase
from app.services import imports, people
from app.services.assignments_batch import OfferRecord, offer_many
from app.services.context import Context
from app.services.people_batch import PersonRecord, upsert_people


def person(external_id: str, manager: str | None = None, **fields: Any) -> PersonRecord:
    fields.setdefault("display_name", external_id.title())
    return PersonRecord(external_id, fields, manager_external_id=manager, manager_given=manager is not None)


async def run(ctx: Context, *records: PersonRecord, dry_run: bool = False) -> list[tuple[str, str | None]]:
    results = await upsert_people(ctx, [Item(i, r) for i, r in enumerate(records)], dry_run=dry_run)
    return [(r.status.value, getattr(r.error, "code", None)) for r in results]


async def managers(db: MemoryDatabase, tenant_id: UUID) -> dict[str, str | None]:
    async with db.uow(tenant_id) as uow:
        found = await uow.people.by_external_ids([p.external_id for p in uow.people.rows.values()])
    by_id = {p.id: p.external_id for p in found.values()}
    return {e: by_id.get(p.manager_id) for e, p in found.items()}  # type: ignore[arg-type]


async def test_a_loop_inside_the_batch_is_refused_with_everyone_hanging_from_it(ctx: Context, db: MemoryDatabase, tenant_id: UUID) -> None:
    got = await run(ctx, person("a", "b"), person("b", "c"), person("c", "a"), person("d", "a"), person("e", "f"), person("f"))
    assert got == [("error", "person.manager_cycle")] * 3 + [("error", "person.unknown_manager"), ("created", None), ("created", None)]
    assert await managers(db, tenant_id) == {"e": "f", "f": None}


async def test_a_change_that_closes_a_loop_with_stored_people_is_refused(ctx: Context, db: MemoryDatabase, tenant_id: UUID) -> None:
    assert await run(ctx, person("top"), person("mid", "top"), person("bottom", "mid")) == [("created", None)] * 3
    got = await run(ctx, person("top", "bottom"), person("new", "bottom"))
    assert got == [("error", "person.manager_cycle"), ("created", None)]
    assert await run(ctx, person("mid", "bottom")) == [("error", "person.manager_cycle")]
    assert await managers(db, tenant_id) == {"top": None, "mid": "top", "bottom": "mid", "new": "bottom"}
    swap = await run(ctx, person("mid", "bottom"), person("bottom", "top"))
    assert swap == [("updated", None), ("updated", None)], "with bottom moved under top, mid under bottom is no loop"
    assert await managers(db, tenant_id) == {"top": None, "mid": "bottom", "bottom": "top", "new": "bottom"}


async def test_reporting_lines_can_be_turned_around_in_one_batch(ctx: Context, db: MemoryDatabase, tenant_id: UUID) -> None:
    await run(ctx, person("x"), person("y", "x"))
    assert await run(ctx, person("x", "y"), PersonRecord("y", {}, manager_given=True)) == [("updated", None), ("updated", None)]
    assert await managers(db, tenant_id) == {"x": "y", "y": None}


async def test_fields_left_out_are_kept_and_a_dry_run_commits_nothing(ctx: Context, db: MemoryDatabase, tenant_id: UUID) -> None:
    await run(ctx, person("p", team="Data", title="Analyst"))
    assert await run(ctx, PersonRecord("p", {"title": "Lead"}), dry_run=True) == [("updated", None)]
    async with db.uow(tenant_id) as uow:
        stored = await uow.people.get_by_external_id("p")
    assert (stored.title, stored.team, stored.version) == ("Analyst", "Data", 1)
    assert await run(ctx, PersonRecord("p", {"title": "Lead"})) == [("updated", None)]
    async with db.uow(tenant_id) as uow:
        stored = await uow.people.get_by_external_id("p")
    assert (stored.title, stored.team, stored.version) == ("Lead", "Data", 2)
    assert [e.type for e in db.events(tenant_id)] == ["person.created", "person.updated"]


async def test_offers_in_a_batch_follow_the_rules_of_a_single_offer(ctx: Context, db: MemoryDatabase, tenant_id: UUID, seeded: Any) -> None:
    lone = await people.create_person(ctx, "hr-3", people.PersonFields(display_name="No manager"))
    records = [
        OfferRecord(brief_id=seeded.brief.id, assignee_external_id="hr-2", external_ref="r-1"),
        OfferRecord(brief_id=seeded.brief.id, assignee_id=lone.id),
        OfferRecord(brief_id=seeded.brief.id, assignee_id=lone.id, reviewer_external_id="hr-1"),
        OfferRecord(brief_key="missing", assignee_external_id="hr-2"),
        OfferRecord(brief_id=seeded.brief.id, assignee_external_id="hr-2", external_ref="r-1"),
    ]
    results = await offer_many(ctx, [Item(i, r) for i, r in enumerate(records)])
    assert [(r.status, getattr(r.error, "code", None)) for r in results] == [
        (ItemStatus.CREATED, None), (ItemStatus.ERROR, "assignment.reviewer_required"), (ItemStatus.CREATED, None),
        (ItemStatus.ERROR, "assignment.unknown_brief"), (ItemStatus.ERROR, "batch.duplicate_item"),
    ]
    again = await offer_many(ctx, [Item(0, records[0])])
    assert (again[0].status, again[0].id) == (ItemStatus.UNCHANGED, results[0].id)
    assert [e.type for e in db.events(tenant_id)].count("assignment.offered") == 2


async def test_an_import_job_applies_its_rows_chunk_by_chunk(ctx: Context, db: MemoryDatabase, tenant_id: UUID) -> None:
    job = await imports.start(ctx, ImportKind.PEOPLE, ImportFormat.NDJSON)
    rows = [ImportRow(1, {"external_id": "a", "display_name": "A"}), ImportRow(2, None, {"code": "validation_failed"}),
            ImportRow(3, {"external_id": "b"}), ImportRow(4, {"external_id": "c", "display_name": "C", "manager_external_id": "a"})]
    await imports.receive(ctx, job.id, rows)
    job = await imports.queue(ctx, job, len(rows))

    def decode(kind: ImportKind, pending: list[ImportRow], instance: str) -> Any:
        """What the API's decoder does, for rows of people: each row as a PersonRecord."""
        items = []
        for row in pending:
            data = dict(row.data or {})
            external_id, manager = data.pop("external_id"), data.pop("manager_external_id", None)
            items.append(Item(row.line, PersonRecord(external_id, data, manager, None, manager is not None)))
        return items, {}

    async with db.uow(tenant_id) as uow:  # a worker claims it (the SQL adapter's claim_import does this)
        job.state = ImportState.RUNNING
        await uow.imports.update(job, job.version)
        await uow.commit()
    for _ in range(10):  # two chunks of the file, then the second try of rows refused for want of a manager
        async with db.uow(tenant_id) as uow:
            applied = await imports.apply_next_chunk(
                lambda j: ctx, uow, job.id, job.version, decode, lambda error, instance: {"code": error.code},
                chunk=2, lease=timedelta(minutes=1),
            )
            await uow.commit()
        assert applied is not None
        job = applied
        if job.state is ImportState.COMPLETED:
            break
    assert job.state is ImportState.COMPLETED and job.rows_processed == 4
    assert {s.value: n for s, n in job.counts.items()} == {"created": 2, "updated": 0, "unchanged": 0, "error": 2}
    refused = await imports.errors(ctx, job.id, PageRequest())
    assert [(r.line, r.problem["code"]) for r in refused.items] == [(2, "validation_failed"), (3, "person.display_name_required")]
