"""/v1/imports: a CSV or NDJSON file in, streamed (never held whole), applied by the worker.

The body is read piece by piece into rows (app.api.files), stored in chunks of 1,000; the job is
queued once the last row is in, and answered 202 with its URL. A row that cannot be read is kept
with its problem. A file that cannot be read at all (a bad header, not UTF-8) is a 4xx: nothing of
it is applied, and if it broke only after its first rows, the job is left `failed` with the reason.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from app.api.deps import Ctx, Paging, page_body
from app.api.errors import UnsupportedMediaType, validation_problem
from app.api.files import BadHeader, Record, RecordReader, format_of, header_problems
from app.api.problems import problem_responses
from app.api.schemas.imports import ERROR_CSV_HEADER, ImportErrorList, ImportErrorOut, ImportJobList, ImportJobOut, error_csv_row
from app.domain.errors import DomainError, FieldProblem, InvalidInput, invalid
from app.domain.imports import ImportFormat, ImportJob, ImportKind, ImportRow
from app.domain.pagination import MAX_LIMIT, PageRequest
from app.services import imports

router = APIRouter(prefix="/v1/imports", tags=["imports"])

RECEIVE_ROWS = 1000
ImportId = Annotated[UUID, Path(description="The import job's id.")]

UPLOAD_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string"}, "example": "external_id,display_name,manager_external_id\nwd-1,Maria,\nwd-2,Pat,wd-1\n"},
        "application/x-ndjson": {"schema": {"type": "string"}, "example": '{"external_id":"wd-1","display_name":"Maria"}\n'},
    },
}


class UnreadableFile(InvalidInput):
    code = "import.unreadable_file"
    title = "The file cannot be read"

    def __init__(self, detail: str) -> None:
        super().__init__([FieldProblem((), detail, "unreadable")], code=self.code)


class Upload:
    """One file being received: rows are stored 1,000 at a time; the job exists from its first row on
    (for a CSV, once its header is known to be right)."""

    def __init__(self, ctx: Ctx, kind: ImportKind, fmt: ImportFormat) -> None:
        self.ctx, self.kind = ctx, kind
        self.reader = RecordReader(kind, fmt)
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.job: ImportJob | None = None
        self.rows: list[ImportRow] = []
        self.read = 0

    async def feed(self, chunk: bytes) -> None:
        try:
            text = self.decoder.decode(chunk)
        except UnicodeDecodeError:
            raise UnreadableFile("The file is not UTF-8 text.") from None
        try:
            for record in self.reader.feed(text):
                await self._take(record)
        except BadHeader as exc:
            raise InvalidInput([FieldProblem(("header",), str(exc), "csv_header")], code="import.bad_header") from None
        if self.reader.header is not None and self.job is None:
            await self._start()

    async def close(self) -> ImportJob:
        try:
            self.decoder.decode(b"", final=True)  # a file that ends inside a UTF-8 sequence
        except UnicodeDecodeError:
            raise UnreadableFile("The file is not UTF-8 text (it ends inside a character).") from None
        for record in self.reader.close():
            await self._take(record)
        if self.job is None:
            if self.reader.header is None:
                raise invalid((), "The file holds no rows.", "empty", code="import.empty_file")
            await self._start()
        assert self.job is not None
        await imports.receive(self.ctx, self.job.id, self.rows)
        return await imports.queue(self.ctx, self.job, self.read)

    async def abandon(self, exc: BaseException) -> None:
        if self.job is not None:
            reason = exc.detail if isinstance(exc, DomainError) else "the upload broke off"
            await imports.abandon(self.ctx, self.job, f"The file could not be received: {reason}")

    async def _start(self) -> None:
        if self.reader.header is not None:
            problems = header_problems(self.kind, self.reader.header)
            if problems:
                raise InvalidInput([FieldProblem(("header",), p, "csv_header") for p in problems], code="import.bad_header")
        self.job = await imports.start(self.ctx, self.kind, self.reader.format)

    async def _take(self, record: Record) -> None:
        if self.job is None:
            await self._start()
        assert self.job is not None
        self.rows.append(_row(record, f"/v1/imports/{self.job.id}"))
        self.read += 1
        if len(self.rows) >= RECEIVE_ROWS:
            await imports.receive(self.ctx, self.job.id, self.rows)
            self.rows = []


def _row(record: Record, instance: str) -> ImportRow:
    if record.problem is None:
        return ImportRow(record.line, record.item)
    column, message, type_ = record.problem
    problem = validation_problem([{"loc": (column,) if column else (), "msg": message, "type": type_}], instance)
    return ImportRow(record.line, None, problem)


@router.post(
    "", status_code=status.HTTP_202_ACCEPTED, operation_id="create_import", summary="Import a CSV or NDJSON file",
    description="The file is received whole (up to `STINT_MAX_IMPORT_BYTES`, 100 MiB by default), then applied by the worker "
                "in chunks; poll the job's URL for progress. Columns per kind: docs/imports.md. Running the same file again "
                "changes nothing and reports every row unchanged.",
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses=problem_responses(400, 403, 413, 415, 422),
)
async def create_import(
    ctx: Ctx, request: Request, response: Response,
    kind: Annotated[ImportKind, Query(description="What the file holds.")],
) -> ImportJobOut:
    fmt = format_of(request.headers.get("content-type", ""))
    if fmt is None:  # the request guard admits only CSV and NDJSON here; an empty body has no type to check
        raise UnsupportedMediaType("Send the file as text/csv or application/x-ndjson.")
    imports.check_allowed(ctx, kind)
    upload = Upload(ctx, kind, fmt)
    try:
        async for chunk in request.stream():
            await upload.feed(chunk)
        job = await upload.close()
    except BaseException as exc:
        await upload.abandon(exc)
        raise
    response.headers["Location"] = f"/v1/imports/{job.id}"
    return ImportJobOut.of(job)


@router.get("", operation_id="list_imports", summary="List import jobs", responses=problem_responses(400, 422))
async def list_imports(ctx: Ctx, paging: Paging, request: Request, response: Response) -> ImportJobList:
    page = await imports.list_(ctx, paging)
    return ImportJobList(**page_body(request, response, page, [ImportJobOut.of(job) for job in page.items]))


@router.get("/{import_id}", operation_id="get_import", summary="An import job's state and progress", responses=problem_responses(404, 422))
async def get_import(ctx: Ctx, import_id: ImportId) -> ImportJobOut:
    return ImportJobOut.of(await imports.get(ctx, import_id))


@router.get(
    "/{import_id}/errors", operation_id="list_import_errors", summary="The rows an import refused, with their problems",
    description="JSON pages by default; `?format=csv` downloads every refused row as CSV (line, code, fields, detail).",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **problem_responses(400, 404, 422)},
)
async def list_import_errors(
    ctx: Ctx, import_id: ImportId, paging: Paging, request: Request, response: Response,
    format: Annotated[str, Query(pattern="^(json|csv)$", description="json (pages) or csv (the whole list).")] = "json",
) -> ImportErrorList:
    if format == "csv":
        return await _errors_csv(ctx, import_id)  # type: ignore[return-value]
    page = await imports.errors(ctx, import_id, paging)
    return ImportErrorList(**page_body(request, response, page, [ImportErrorOut.of(row) for row in page.items]))


async def _errors_csv(ctx: Ctx, import_id: UUID) -> StreamingResponse:
    first = await imports.errors(ctx, import_id, PageRequest(limit=MAX_LIMIT))  # 404 before the download starts

    async def lines() -> AsyncIterator[str]:
        page = first
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(ERROR_CSV_HEADER)
        while True:
            for row in page.items:
                writer.writerow(error_csv_row(row))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if page.next_after is None:
                return
            page = await imports.errors(ctx, import_id, PageRequest(limit=MAX_LIMIT, after=page.next_after))

    return StreamingResponse(
        lines(), media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )
