"""Import jobs: response shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.api.files import problem_fields
from app.api.problems import Problem
from app.api.schemas.common import ActorOut, ListOf, Resource
from app.domain.batch import ItemStatus
from app.domain.imports import ImportFormat, ImportJob, ImportKind, ImportRow, ImportState


class ImportCounts(BaseModel):
    created: int
    updated: int
    unchanged: int
    failed: int


class ImportJobOut(Resource):
    kind: ImportKind
    format: ImportFormat
    state: ImportState = Field(description="receiving, queued, running, completed, or failed (the file could not be read).")
    rows_read: int = Field(description="Rows in the file (known once it is received).")
    rows_processed: int
    counts: ImportCounts
    progress: float = Field(description="Share of the rows applied, 0 to 1.")
    error: str | None = Field(description="Why the job failed as a whole, if it did.")
    created_by: ActorOut
    finished_at: datetime | None
    errors_url: str = Field(description="Each refused row with its line and problem; add ?format=csv for a CSV file.")

    @classmethod
    def of(cls, job: ImportJob) -> ImportJobOut:
        return cls(
            id=job.id, version=job.version, created_at=job.created_at, updated_at=job.updated_at, kind=job.kind,
            format=job.format, state=job.state, rows_read=job.rows_read, rows_processed=job.rows_processed,
            counts=ImportCounts(
                created=job.counts[ItemStatus.CREATED], updated=job.counts[ItemStatus.UPDATED],
                unchanged=job.counts[ItemStatus.UNCHANGED], failed=job.counts[ItemStatus.ERROR],
            ),
            progress=job.progress, error=job.error, created_by=ActorOut.of(job.actor), finished_at=job.finished_at,
            errors_url=f"/v1/imports/{job.id}/errors",
        )


class ImportJobList(ListOf[ImportJobOut]):
    pass


class ImportErrorOut(BaseModel):
    line: int = Field(description="The file's line where the row starts (the header is line 1).")
    problem: Problem

    @classmethod
    def of(cls, row: ImportRow) -> ImportErrorOut:
        return cls(line=row.line, problem=row.problem)  # type: ignore[arg-type]


class ImportErrorList(ListOf[ImportErrorOut]):
    pass


def error_csv_row(row: ImportRow) -> list[Any]:
    problem = row.problem or {}
    return [row.line, problem.get("code", ""), problem_fields(problem), problem.get("detail", "")]


ERROR_CSV_HEADER = ["line", "code", "fields", "detail"]
