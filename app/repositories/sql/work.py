"""What happens inside one assignment: submissions, reviews, extensions, and the evidence a pass creates."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select, update

from app.domain.pagination import Page, PageRequest
from app.domain.work import Evidence, Extension, Review, Submission, SubmissionStatus
from app.repositories.sql import mapping as m
from app.repositories.sql import tables as t
from app.repositories.sql.base import TenantTable


class SqlSubmissions(TenantTable[Submission]):
    table, kind = t.submissions, "submission"
    to_values, from_row = staticmethod(m.submission_values), staticmethod(m.submission_from)

    async def add(self, submission: Submission) -> None:
        await self._insert(submission)

    async def update(self, submission: Submission) -> None:
        await self._conn.execute(
            update(self.table).where(self._scoped(self.table.c.id == submission.id)).values(m.submission_values(submission))
        )

    async def current(self, assignment_id: UUID) -> Submission | None:
        c = self.table.c
        stmt = (
            select(self.table)
            .where(self._scoped(c.assignment_id == assignment_id, c.status == SubmissionStatus.ACTIVE.value))
            .order_by(c.id.desc())
            .limit(1)
        )
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else m.submission_from(row)

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Submission]:
        return await self._page(page, self.table.c.assignment_id == assignment_id)


class SqlReviews(TenantTable[Review]):
    table, kind = t.reviews, "review"
    to_values, from_row = staticmethod(m.review_values), staticmethod(m.review_from)

    async def add(self, review: Review) -> None:
        await self._insert(review)

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Review]:
        return await self._page(page, self.table.c.assignment_id == assignment_id)


class SqlExtensions(TenantTable[Extension]):
    table, kind = t.extensions, "extension"
    to_values, from_row = staticmethod(m.extension_values), staticmethod(m.extension_from)

    async def add(self, extension: Extension) -> None:
        await self._insert(extension)

    async def list(self, assignment_id: UUID, page: PageRequest) -> Page[Extension]:
        return await self._page(page, self.table.c.assignment_id == assignment_id)


class SqlEvidence(TenantTable[Evidence]):
    table, kind = t.evidence, "evidence"
    to_values, from_row = staticmethod(m.evidence_values), staticmethod(m.evidence_from)

    async def add(self, evidence: Evidence) -> None:
        await self._insert(evidence)

    async def for_person(self, person_id: UUID) -> list[Evidence]:
        stmt = select(self.table).where(self._scoped(self.table.c.person_id == person_id)).order_by(self.table.c.id)
        return [m.evidence_from(row) for row in (await self._conn.execute(stmt)).all()]
