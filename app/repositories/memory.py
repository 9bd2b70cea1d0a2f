"""In-memory adapters for the ports, for service tests. Same contracts as the SQL ones.

A unit of work copies the tenant's data on entry and publishes the copy on commit,
so an uncommitted unit of work leaves nothing behind.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from uuid import UUID

from app.domain.assignment import OPEN_STATES, Assignment, State
from app.domain.briefs import Brief, BriefStatus
from app.domain.errors import ConcurrentUpdate, Conflict
from app.domain.events import Event, type_matches
from app.domain.imports import ImportJob, ImportKind, ImportRow
from app.domain.pagination import Page, PageRequest, cursor_deadline, cursor_id, deadline_key
from app.domain.people import Person, TeamMember
from app.domain.ports import AssignmentFilter
from app.domain.skills import Skill
from app.domain.work import Evidence, Extension, Review, Submission, SubmissionStatus


@dataclass
class _Store:
    people: dict[UUID, Person] = field(default_factory=dict)
    skills: dict[UUID, Skill] = field(default_factory=dict)
    briefs: dict[UUID, Brief] = field(default_factory=dict)
    assignments: dict[UUID, Assignment] = field(default_factory=dict)
    submissions: dict[UUID, Submission] = field(default_factory=dict)
    reviews: dict[UUID, Review] = field(default_factory=dict)
    evidence: dict[UUID, Evidence] = field(default_factory=dict)
    extensions: dict[UUID, Extension] = field(default_factory=dict)
    events: dict[UUID, Event] = field(default_factory=dict)
    imports: dict[UUID, ImportJob] = field(default_factory=dict)
    import_rows: dict[tuple[UUID, int], ImportRow] = field(default_factory=dict)


def _page(items: list[Any], page: PageRequest) -> Page[Any]:
    items = sorted(items, key=lambda item: item.id)
    after = cursor_id(page.after)
    if after is not None:
        items = [item for item in items if item.id > after]
    return Page.from_rows([copy.deepcopy(item) for item in items[: page.limit + 1]], page)


class _Repo:
    """Works on the unit of work's copy, and remembers what it wrote so commit can publish just that."""

    def __init__(self, rows: dict[UUID, Any], kind: str) -> None:
        self.rows, self.kind = rows, kind
        self.written: set[UUID] = set()
        self.expected: dict[UUID, int] = {}

    async def add(self, item: Any) -> None:
        self.rows[item.id] = copy.deepcopy(item)
        self.written.add(item.id)

    async def get(self, item_id: UUID) -> Any:
        return copy.deepcopy(self.rows.get(item_id))

    async def update(self, item: Any, expected_version: int) -> None:
        stored = self.rows.get(item.id)
        if stored is None or stored.version != expected_version:
            raise ConcurrentUpdate(self.kind)
        self.expected.setdefault(item.id, expected_version)
        self.rows[item.id] = copy.deepcopy(item)
        self.written.add(item.id)

    def _find(self, **match: Any) -> Any:
        return next((copy.deepcopy(row) for row in self.rows.values() if all(getattr(row, k) == v for k, v in match.items())), None)

    def _by(self, field_name: str, values: list[Any]) -> dict[Any, Any]:
        wanted = set(values)
        return {getattr(row, field_name): copy.deepcopy(row) for row in self.rows.values() if getattr(row, field_name) in wanted}

    async def get_many(self, ids: list[UUID]) -> dict[UUID, Any]:
        return {i: copy.deepcopy(self.rows[i]) for i in ids if i in self.rows}

    async def add_many(self, items: list[Any]) -> None:
        for item in items:
            await self.add(item)

    async def update_many(self, items: list[Any]) -> None:
        """Writes back items read in this unit of work: compare-and-set on the version they were read at."""
        for item in items:
            stored = self.rows.get(item.id)
            if stored is None:
                raise ConcurrentUpdate(self.kind)
            self.expected.setdefault(item.id, stored.version)
            self.rows[item.id] = copy.deepcopy(item)
            self.written.add(item.id)


class MemoryPeople(_Repo):
    async def add(self, person: Person) -> None:
        if self._find(external_id=person.external_id):
            raise Conflict("A person with this external_id already exists.", code="person.external_id_taken")
        await super().add(person)

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
            edges[current] = self.rows[current].manager_id
            if edges[current] is not None and edges[current] in self.rows:
                frontier.append(edges[current])
        return edges

    async def get_by_email(self, email: str) -> list[Person]:
        return [copy.deepcopy(p) for p in self.rows.values() if p.email and p.email.lower() == email.lower()][:2]

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
        return _page(rows, page)

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


class MemorySkills(_Repo):
    async def add(self, skill: Skill) -> None:
        if self._find(key=skill.key):
            raise Conflict("A skill with this key already exists.", code="skill.key_taken")
        await super().add(skill)

    async def by_keys(self, keys: list[str], *, lock: bool = False) -> dict[str, Skill]:
        return self._by("key", keys)

    async def list(self, page: PageRequest) -> Page[Skill]:
        return _page(list(self.rows.values()), page)


class MemoryBriefs(_Repo):
    async def add(self, brief: Brief) -> None:
        if brief.key is not None and self._find(key=brief.key):
            raise Conflict("A brief with this key already exists.", code="brief.key_taken")
        await super().add(brief)

    async def by_keys(self, keys: list[str], *, lock: bool = False) -> dict[str, Brief]:
        return self._by("key", keys)

    async def list(self, page: PageRequest, *, statuses: tuple[BriefStatus, ...] = (), skill_ids: tuple[UUID, ...] = ()) -> Page[Brief]:
        rows = [b for b in self.rows.values() if (not statuses or b.status in statuses) and (not skill_ids or b.content.skill_id in skill_ids)]
        return _page(rows, page)


class MemoryAssignments(_Repo):
    async def add(self, assignment: Assignment) -> None:
        if assignment.external_ref is not None and self._find(external_ref=assignment.external_ref):
            raise Conflict("An assignment with this external_ref already exists.", code="assignment.external_ref_taken")
        await super().add(assignment)

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
        return _page(rows, page)

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


class MemorySubmissions(_Repo):
    async def update(self, submission: Submission) -> None:  # type: ignore[override]
        self.rows[submission.id] = copy.deepcopy(submission)
        self.written.add(submission.id)

    async def current(self, assignment_id: UUID) -> Submission | None:
        active = [s for s in self.rows.values() if s.assignment_id == assignment_id and s.status is SubmissionStatus.ACTIVE]
        return copy.deepcopy(max(active, key=lambda s: s.id)) if active else None

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Submission]:
        return _page([s for s in self.rows.values() if s.assignment_id == assignment_id], page)


class MemoryReviews(_Repo):
    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Review]:
        return _page([r for r in self.rows.values() if r.assignment_id == assignment_id], page)


class MemoryExtensions(_Repo):
    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Extension]:
        return _page([x for x in self.rows.values() if x.assignment_id == assignment_id], page)


class MemoryEvidence(_Repo):
    async def for_person(self, person_id: UUID) -> list[Evidence]:
        return sorted((copy.deepcopy(e) for e in self.rows.values() if e.person_id == person_id), key=lambda e: e.id)


class MemoryEvents(_Repo):
    async def list_for_subject(self, subject_id: UUID, page: PageRequest) -> Page[Event]:
        return _page([e for e in self.rows.values() if e.subject_id == subject_id], page)

    async def feed(
        self, after: int, limit: int, types: tuple[str, ...] = (), subject_id: UUID | None = None, since: datetime | None = None,
    ) -> list[Event]:
        rows = sorted((e for e in self.rows.values() if e.seq is not None and e.seq > after), key=lambda e: e.seq)
        rows = [e for e in rows if since is None or e.occurred_at > since]
        rows = [e for e in rows if (not types or any(type_matches(p, e.type) for p in types)) and (subject_id is None or e.subject_id == subject_id)]
        return [copy.deepcopy(e) for e in rows[:limit]]


class MemoryImports(_Repo):
    """Import jobs, and their rows keyed (job_id, line)."""

    def __init__(self, rows: dict[UUID, Any], kind: str, lines: dict[tuple[UUID, int], ImportRow]) -> None:
        super().__init__(rows, kind)
        self.lines = lines

    async def list(self, page: PageRequest, kinds: tuple[ImportKind, ...], created_by: UUID | None = None) -> Page[ImportJob]:
        return _page([j for j in self.rows.values() if j.kind in kinds and (created_by is None or created_by in (j.actor.id, j.actor.on_behalf_of))], page)

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


class MemoryUnitOfWork:
    def __init__(self, stores: dict[UUID, _Store], tenant_id: UUID) -> None:
        self._stores, self.tenant_id = stores, tenant_id
        self.committed = False

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self._stores.setdefault(self.tenant_id, _Store()))
        w = self._work
        self.people = MemoryPeople(w.people, "person")
        self.people.assignments = w.assignments
        self.skills = MemorySkills(w.skills, "skill")
        self.briefs = MemoryBriefs(w.briefs, "brief")
        self.assignments = MemoryAssignments(w.assignments, "assignment")
        self.assignments.people = self.people
        self.submissions = MemorySubmissions(w.submissions, "submission")
        self.reviews = MemoryReviews(w.reviews, "review")
        self.evidence = MemoryEvidence(w.evidence, "evidence")
        self.extensions = MemoryExtensions(w.extensions, "extension")
        self.events = MemoryEvents(w.events, "event")
        self.imports = MemoryImports(w.imports, "import", w.import_rows)
        return self

    async def commit(self) -> None:
        """Compare-and-set against what other units of work committed meanwhile, then publish the writes."""
        live = self._stores.setdefault(self.tenant_id, _Store())
        repos = {name: getattr(self, name) for name in vars(live) if name != "import_rows"}
        for name, repo in repos.items():
            for item_id, expected in repo.expected.items():
                current = getattr(live, name).get(item_id)
                if current is None or current.version != expected:
                    raise ConcurrentUpdate(repo.kind)
        next_seq = max((e.seq or 0 for e in live.events.values()), default=0) + 1
        for offset, event_id in enumerate(sorted(self.events.written)):  # numbered as they commit, as on SQLite
            seq = next_seq + offset
            self.events.rows[event_id] = dataclasses.replace(self.events.rows[event_id], seq=seq, pos=seq)
        for name, repo in repos.items():
            for item_id in repo.written:
                getattr(live, name)[item_id] = copy.deepcopy(repo.rows[item_id])
        live.import_rows = copy.deepcopy(self._work.import_rows)
        self.committed = True

    async def __aexit__(self, *exc: object) -> None:
        return None


class MemoryDatabase:
    """Holds every tenant's data; `uow(tenant_id)` is the UnitOfWorkFactory."""

    def __init__(self) -> None:
        self.stores: dict[UUID, _Store] = {}

    def uow(self, tenant_id: UUID, *, readonly: bool = False) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.stores, tenant_id)

    def events(self, tenant_id: UUID) -> list[Event]:
        store = self.stores.get(tenant_id, _Store())
        return sorted(store.events.values(), key=lambda e: e.id)
