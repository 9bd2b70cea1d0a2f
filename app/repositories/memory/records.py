"""In-memory repositories of one tenant's people, catalogue, assignments, work, events and imports."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from app.domain.assignment import OPEN_STATES, Assignment
from app.domain.briefs import Brief, BriefStatus
from app.domain.errors import Conflict
from app.domain.events import Event, type_matches
from app.domain.imports import ImportJob, ImportKind, ImportRow
from app.domain.pagination import Page, PageRequest, cursor_deadline, cursor_id, deadline_key
from app.domain.people import Person, TeamMember
from app.domain.ports import AssignmentFilter
from app.domain.skills import Skill
from app.domain.work import Evidence, Extension, Review, Submission, SubmissionStatus
from app.repositories.memory.base import Repo, page_of
from app.repositories.sql.mapping import event_document


class MemoryPeople(Repo):
    assignments: dict[UUID, Assignment]
    """The unit of work's assignments, for `team`'s open counts."""

    async def add(self, person: Person) -> None:
        if self._find(external_id=person.external_id):
            raise Conflict("A person with this external_id already exists.", code="person.external_id_taken")
        await self._add(person)

    async def get(self, person_id: UUID) -> Person | None:
        return await self._get(person_id)

    async def update(self, person: Person, expected_version: int) -> None:
        await self._update(person, expected_version)

    async def get_many(self, person_ids: list[UUID]) -> dict[UUID, Person]:
        return await self._get_many(person_ids)

    async def add_many(self, people: list[Person]) -> None:
        """Inserted in the order given, each checked as `add` checks it."""
        for person in people:
            await self.add(person)

    async def update_many(self, people: list[Person]) -> None:
        await self._update_many(people)

    async def get_by_external_id(self, external_id: str) -> Person | None:
        return self._find(external_id=external_id)

    async def by_external_ids(self, external_ids: list[str], *, lock: bool = False) -> dict[str, Person]:
        return self._by("external_id", external_ids)

    async def manager_edges(self, person_ids: list[UUID]) -> dict[UUID, UUID | None]:
        edges: dict[UUID, UUID | None] = {}
        frontier = [i for i in person_ids if i in self.rows]
        while frontier:
            current = frontier.pop()
            if current in edges:
                continue
            manager_id = edges[current] = self.rows[current].manager_id
            if manager_id is not None and manager_id in self.rows:
                frontier.append(manager_id)
        return edges

    async def get_by_email(self, email: str) -> list[Person]:
        return [copy.deepcopy(p) for p in self.rows.values() if p.email and p.email.lower() == email.lower()][:2]

    def _below(self, manager_id: UUID) -> dict[UUID, int]:
        depth, frontier, found = 1, {manager_id}, {}
        while frontier:
            frontier = {p.id for p in self.rows.values() if p.manager_id in frontier and p.id not in found}
            found.update({pid: depth for pid in frontier})
            depth += 1
        return found

    async def team(self, manager_id: UUID, page: PageRequest, now: datetime) -> Page[TeamMember]:
        below = self._below(manager_id)
        members = [
            TeamMember(
                copy.deepcopy(self.rows[pid]), depth,
                sum(1 for a in self.assignments.values() if a.assignee_id == pid and a.effective_state(now) in OPEN_STATES),
            )
            for pid, depth in below.items()
        ]
        members.sort(key=lambda member: member.person.id)
        after = cursor_id(page.after)
        if after is not None:
            members = [member for member in members if member.person.id > after]
        return Page.from_rows(members[: page.limit + 1], page, key=lambda member: str(member.person.id))

    async def lock_hierarchy(self) -> None:
        """One unit of work at a time commits here; nothing to lock."""

    async def managers_above(self, person_id: UUID) -> list[UUID]:
        chain: list[UUID] = []
        current = self.rows.get(person_id)
        while current is not None and current.manager_id is not None and current.manager_id not in chain:
            chain.append(current.manager_id)
            current = self.rows.get(current.manager_id)
        return chain

    async def list(
        self, page: PageRequest, *, manager_id: UUID | None = None, active: bool | None = None, visible_to: UUID | None = None
    ) -> Page[Person]:
        visible = None
        if visible_to is not None:
            visible = {visible_to, *(await self.managers_above(visible_to)), *self._below(visible_to)}
        rows = [
            p for p in self.rows.values()
            if (manager_id is None or p.manager_id == manager_id) and (active is None or p.active == active)
            and (visible is None or p.id in visible)
        ]
        return page_of(rows, page)


class MemorySkills(Repo):
    async def add(self, skill: Skill) -> None:
        if self._find(key=skill.key):
            raise Conflict("A skill with this key already exists.", code="skill.key_taken")
        await self._add(skill)

    async def get(self, skill_id: UUID) -> Skill | None:
        return await self._get(skill_id)

    async def get_many(self, skill_ids: list[UUID]) -> dict[UUID, Skill]:
        return await self._get_many(skill_ids)

    async def update(self, skill: Skill, expected_version: int) -> None:
        await self._update(skill, expected_version)

    async def add_many(self, skills: list[Skill]) -> None:
        for skill in skills:
            await self.add(skill)

    async def update_many(self, skills: list[Skill]) -> None:
        await self._update_many(skills)

    async def by_keys(self, keys: list[str], *, lock: bool = False) -> dict[str, Skill]:
        return self._by("key", keys)

    async def list(self, page: PageRequest) -> Page[Skill]:
        return page_of(list(self.rows.values()), page)


class MemoryBriefs(Repo):
    async def add(self, brief: Brief) -> None:
        if brief.key is not None and self._find(key=brief.key):
            raise Conflict("A brief with this key already exists.", code="brief.key_taken")
        await self._add(brief)

    async def get(self, brief_id: UUID) -> Brief | None:
        return await self._get(brief_id)

    async def update(self, brief: Brief, expected_version: int) -> None:
        await self._update(brief, expected_version)

    async def get_many(self, brief_ids: list[UUID]) -> dict[UUID, Brief]:
        return await self._get_many(brief_ids)

    async def add_many(self, briefs: list[Brief]) -> None:
        for brief in briefs:
            await self.add(brief)

    async def update_many(self, briefs: list[Brief]) -> None:
        await self._update_many(briefs)

    async def by_keys(self, keys: list[str], *, lock: bool = False) -> dict[str, Brief]:
        return self._by("key", keys)

    async def list(self, page: PageRequest, *, statuses: tuple[BriefStatus, ...] = (), skill_ids: tuple[UUID, ...] = ()) -> Page[Brief]:
        rows = [
            b for b in self.rows.values()
            if (not statuses or b.status in statuses) and (not skill_ids or b.content.skill_id in skill_ids)
        ]
        return page_of(rows, page)


class MemoryAssignments(Repo):
    people: MemoryPeople
    """The unit of work's people, for `visible_to`."""

    async def add(self, assignment: Assignment) -> None:
        if assignment.external_ref is not None and self._find(external_ref=assignment.external_ref):
            raise Conflict("An assignment with this external_ref already exists.", code="assignment.external_ref_taken")
        await self._add(assignment)

    async def get(self, assignment_id: UUID) -> Assignment | None:
        return await self._get(assignment_id)

    async def add_many(self, assignments: list[Assignment]) -> None:
        for assignment in assignments:
            await self.add(assignment)

    async def update(self, assignment: Assignment, expected_version: int) -> None:
        await self._update(assignment, expected_version)

    async def get_by_external_ref(self, external_ref: str) -> Assignment | None:
        return self._find(external_ref=external_ref)

    async def by_external_refs(self, external_refs: list[str]) -> dict[str, Assignment]:
        return self._by("external_ref", external_refs)

    async def list(self, page: PageRequest, filters: AssignmentFilter, now: datetime, visible_to: UUID | None = None) -> Page[Assignment]:
        below = set(self.people._below(visible_to)) if visible_to is not None else set()
        rows = [
            a for a in self.rows.values()
            if self._keep(a, filters, now)
            and (visible_to is None or visible_to in (a.assignee_id, a.reviewer_id) or a.assignee_id in below)
        ]
        return page_of(rows, page)

    async def by_deadline(self, page: PageRequest, filters: AssignmentFilter, now: datetime) -> Page[Assignment]:
        def deadline(a: Assignment) -> datetime | None:
            return a.facing_deadline(now)

        def order(a: Assignment) -> tuple[bool, datetime, UUID]:
            d = deadline(a)
            return (d is None, d or datetime.min.replace(tzinfo=UTC), a.id)

        rows = sorted((a for a in self.rows.values() if self._keep(a, filters, now)), key=order)
        after = cursor_deadline(page.after)
        if after is not None:
            last = (after[0] is None, after[0] or datetime.min.replace(tzinfo=UTC), after[1])
            rows = [a for a in rows if order(a) > last]
        return Page.from_rows([copy.deepcopy(a) for a in rows[: page.limit + 1]], page, key=lambda a: deadline_key(deadline(a), a.id))

    @staticmethod
    def _keep(a: Assignment, filters: AssignmentFilter, now: datetime) -> bool:
        return (
            (not filters.states or a.effective_state(now) in filters.states)
            and (not filters.assignee_ids or a.assignee_id in filters.assignee_ids)
            and (not filters.reviewer_ids or a.reviewer_id in filters.reviewer_ids)
            and (not filters.brief_ids or a.brief_id in filters.brief_ids)
            and (not filters.skill_ids or a.skill_id in filters.skill_ids)
            and (not filters.external_refs or a.external_ref in filters.external_refs)
            and (filters.due_before is None or (a.due_at is not None and a.due_at < filters.due_before))
        )


class MemorySubmissions(Repo):
    async def add(self, submission: Submission) -> None:
        await self._add(submission)

    async def update(self, submission: Submission) -> None:
        self.rows[submission.id] = copy.deepcopy(submission)
        self.written.add(submission.id)

    async def current(self, assignment_id: UUID) -> Submission | None:
        active = [s for s in self.rows.values() if s.assignment_id == assignment_id and s.status is SubmissionStatus.ACTIVE]
        return copy.deepcopy(max(active, key=lambda s: s.id)) if active else None

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Submission]:
        return page_of([s for s in self.rows.values() if s.assignment_id == assignment_id], page)


class MemoryReviews(Repo):
    async def add(self, review: Review) -> None:
        await self._add(review)

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Review]:
        return page_of([r for r in self.rows.values() if r.assignment_id == assignment_id], page)


class MemoryExtensions(Repo):
    async def add(self, extension: Extension) -> None:
        await self._add(extension)

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Extension]:
        return page_of([x for x in self.rows.values() if x.assignment_id == assignment_id], page)


class MemoryEvidence(Repo):
    async def add(self, evidence: Evidence) -> None:
        await self._add(evidence)

    async def for_person(self, person_id: UUID) -> list[Evidence]:
        return sorted((copy.deepcopy(e) for e in self.rows.values() if e.person_id == person_id), key=lambda e: e.id)


def as_stored(event: Event) -> Event:
    """The event as storage hands it back: `data` and `details` in their JSON form, as the SQL store reads them
    (the same function writes them there), so a service sees here what it sees on a database."""
    document = event_document(event)
    return dataclasses.replace(event, data=document["data"], details=document["details"])


class MemoryEvents(Repo):
    """Events keep their domain objects in the store (tests read them); reads hand them out as stored."""

    async def add(self, event: Event) -> None:
        """Numbered (seq, pos) and queued to the webhooks that want it when the unit of work commits."""
        await self._add(event)

    async def list_for_subject(self, subject_id: UUID, page: PageRequest) -> Page[Event]:
        found = page_of([e for e in self.rows.values() if e.subject_id == subject_id], page)
        return Page([as_stored(e) for e in found.items], found.next_after)

    async def feed(
        self, after: int, limit: int, types: tuple[str, ...] = (), subject_id: UUID | None = None, since: datetime | None = None,
    ) -> list[Event]:
        rows = sorted((e for e in self.rows.values() if e.seq is not None and e.seq > after), key=lambda e: e.seq)
        rows = [e for e in rows if since is None or e.occurred_at > since]
        rows = [
            e for e in rows
            if (not types or any(type_matches(p, e.type) for p in types)) and (subject_id is None or e.subject_id == subject_id)
        ]
        return [as_stored(e) for e in rows[:limit]]


class MemoryImports(Repo):
    """Import jobs, and their rows keyed (job_id, line)."""

    def __init__(self, rows: dict[UUID, Any], kind: str, lines: dict[tuple[UUID, int], ImportRow]) -> None:
        super().__init__(rows, kind)
        self.lines = lines

    async def add(self, job: ImportJob) -> None:
        await self._add(job)

    async def get(self, job_id: UUID) -> ImportJob | None:
        return await self._get(job_id)

    async def update(self, job: ImportJob, expected_version: int) -> None:
        await self._update(job, expected_version)

    async def add_rows(self, job_id: UUID, rows: list[ImportRow]) -> None:
        self.lines.update({(job_id, row.line): row for row in rows})

    async def rows_after(self, job_id: UUID, line: int, limit: int, *, refused: bool = False) -> list[ImportRow]:
        found = (r for (j, n), r in self.lines.items() if j == job_id and n > line and (not refused or r.problem is not None))
        return sorted(found, key=lambda r: r.line)[:limit]

    async def settle(self, job_id: UUID, applied: list[int], refused: list[ImportRow]) -> None:
        for line in applied:
            self.lines.pop((job_id, line), None)
        self.lines.update({(job_id, row.line): ImportRow(row.line, self.lines[(job_id, row.line)].data, row.problem) for row in refused})

    async def errors(self, job_id: UUID, page: PageRequest) -> Page[ImportRow]:
        after = page.after if isinstance(page.after, int) else 0
        found = [r for r in await self.rows_after(job_id, after, 10**9) if r.problem is not None]
        return Page.from_rows(found[: page.limit + 1], page, key=lambda row: row.line)

    async def drop_rows(self, job_id: UUID) -> None:
        for key in [k for k in self.lines if k[0] == job_id]:
            del self.lines[key]

    async def list(self, page: PageRequest, kinds: tuple[ImportKind, ...], created_by: UUID | None = None) -> Page[ImportJob]:
        mine = [
            j for j in self.rows.values()
            if j.kind in kinds and (created_by is None or created_by in (j.actor.id, j.actor.on_behalf_of))
        ]
        return page_of(mine, page)


