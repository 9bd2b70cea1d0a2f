"""Reading import files: CSV and NDJSON, streamed, into the items the batch endpoints take.

Used by `POST /v1/imports` on the server and by `stint import` on the client, so a file means the
same thing either way. A CSV row becomes a batch item by its columns (docs/imports.md); an NDJSON
line is a batch item already. An empty CSV cell leaves the field out (on an update, it is kept).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.domain.imports import ImportFormat, ImportKind

LIST_SEPARATOR = "|"

COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.PEOPLE: ("external_id", "display_name", "email", "manager_external_id", "manager_id", "team", "title", "active", "is_admin"),
    ImportKind.SKILLS: ("key", "name", "description", "framework", "framework_ref", "levels"),
    ImportKind.BRIEFS: (
        "key", "title", "summary", "instructions", "context", "skill_key", "skill_id", "target_level", "timebox",
        "deliverable_kind", "deliverable_description", "rubric", "review_within", "offer_ttl", "max_attempts",
        "late_grace", "tags", "publish",
    ),
    ImportKind.ASSIGNMENTS: (
        "external_ref", "brief_key", "brief_id", "assignee_external_id", "assignee_id", "reviewer_external_id",
        "reviewer_id", "context_note", "offer_expires_at",
    ),
}
REQUIRED_COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.PEOPLE: ("external_id",),
    ImportKind.SKILLS: ("key",),
    ImportKind.BRIEFS: ("key",),
    ImportKind.ASSIGNMENTS: ("external_ref",),
}
"""Every file row names its record by these, so running the same file again changes nothing."""

MEDIA_TYPES = {"text/csv": ImportFormat.CSV, "application/x-ndjson": ImportFormat.NDJSON}


_OPENING_QUOTE = re.compile(r',"')
_REST_OF_QUOTED = re.compile(r'(?:[^"]|"")*"(?!")')
"""From inside a quoted field to its closing quote (a doubled quote is an escaped one)."""


def _ends_in_quotes(line: str, in_quotes: bool) -> bool:
    """Whether a CSV line ends inside a quoted field, given whether it began inside one."""
    position = 0
    if not in_quotes and line.startswith('"'):
        in_quotes, position = True, 1
    while True:
        if in_quotes:
            closing = _REST_OF_QUOTED.match(line, position)
            if closing is None:
                return True
            in_quotes, position = False, closing.end()
        opening = _OPENING_QUOTE.search(line, position)
        if opening is None:
            return False
        in_quotes, position = True, opening.end()


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class BadHeader(ValueError):
    """The first record of a CSV file is not a header that can be read."""


class BadCell(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column, self.message = column, message


def format_of(content_type: str) -> ImportFormat | None:
    return MEDIA_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def header_problems(kind: ImportKind, header: list[str]) -> list[str]:
    """What is wrong with a CSV header, as sentences (none: it is fine)."""
    problems = []
    unknown = [name for name in header if name not in COLUMNS[kind]]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(repr(u) for u in unknown)}; the columns of {kind} are {', '.join(COLUMNS[kind])}")
    missing = [name for name in REQUIRED_COLUMNS[kind] if name not in header]
    if missing:
        problems.append(f"the column(s) {', '.join(missing)} are required")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        problems.append(f"column(s) {', '.join(duplicated)} appear twice")
    return problems


def csv_item(kind: ImportKind, row: dict[str, str]) -> dict[str, Any]:
    """A CSV row (column -> cell) as a batch item; raises BadCell for a cell that cannot be read."""
    item: dict[str, Any] = {name: value for name, value in row.items() if value != ""}
    if kind is ImportKind.SKILLS and "levels" in item:
        item["levels"] = [_level(part) for part in item["levels"].split(LIST_SEPARATOR) if part.strip()]
    if kind is ImportKind.BRIEFS:
        if "rubric" in item:
            try:
                item["rubric"] = json.loads(item["rubric"])
            except ValueError:
                raise BadCell("rubric", "rubric is not valid JSON") from None
        if "tags" in item:
            item["tags"] = [tag.strip() for tag in item["tags"].split(LIST_SEPARATOR) if tag.strip()]
        deliverable = {key: item.pop(f"deliverable_{key}") for key in ("kind", "description") if f"deliverable_{key}" in item}
        if deliverable:
            item["deliverable"] = deliverable
    return item


def _level(part: str) -> dict[str, str]:
    number, sep, name = part.partition(":")
    if not sep or not number.strip() or not name.strip():
        raise BadCell("levels", f"levels are written 1:Basic{LIST_SEPARATOR}2:Working; '{part[:40]}' is not")
    return {"level": number.strip(), "name": name.strip()}


def problem_fields(problem: dict[str, Any]) -> str:
    """The fields a row's problem names, for an errors CSV: `email;levels.1.level`."""
    return ";".join(".".join(str(part) for part in error.get("loc", [])) for error in problem.get("errors") or [])


def missing_key(kind: ImportKind, item: Any) -> str | None:
    """The required field a file row lacks (an NDJSON line need not follow the CSV header's rule otherwise)."""
    if not isinstance(item, dict):
        return None
    return next((name for name in REQUIRED_COLUMNS[kind] if item.get(name) in (None, "")), None)


@dataclass(frozen=True)
class Record:
    line: int
    """The file's line where the record starts (1 is the first line)."""
    item: Any = None
    problem: tuple[str | None, str, str] | None = None
    """(column, message, type) when the record is not an item."""
    raw: tuple[str, ...] = ()
    """The record as written: its CSV cells, or its NDJSON line."""


class RecordReader:
    """Text in (as it arrives, in any pieces), records out: CSV (header first) or NDJSON.

    A CSV record may span lines inside a quoted field (RFC 4180): it ends at a newline outside one. A
    field is quoted only if it starts with a quote, so a stray `"` inside a cell (`5" tall`) is a
    character, as Python's csv module reads it, and never swallows the lines after it.
    """

    def __init__(self, kind: ImportKind, fmt: ImportFormat) -> None:
        self.kind, self.format = kind, fmt
        self.header: list[str] | None = None
        self._pending = ""
        self._record: list[str] = []
        self._in_quotes = False
        self._line = 0
        self._record_line = 1

    def feed(self, text: str) -> Iterator[Record]:
        parts = (self._pending + text).split("\n")  # not splitlines(): a cell may hold U+2028 and the like
        self._pending = parts.pop()
        for part in parts:
            yield from self._line_in(part + "\n")

    def close(self) -> Iterator[Record]:
        if self._pending:
            yield from self._line_in(self._pending)
            self._pending = ""
        if self._record:
            line = self._record_line
            self._record = []
            yield Record(line, problem=(None, "the file ends inside a quoted field", "csv_unterminated"))

    def _line_in(self, line: str) -> Iterator[Record]:
        self._line += 1
        if self.format is ImportFormat.NDJSON:
            if line.strip():
                yield self._ndjson(line)
            return
        if not self._record:
            self._record_line = self._line
        self._record.append(line)
        self._in_quotes = _ends_in_quotes(line, self._in_quotes)
        if self._in_quotes:
            return
        text, self._record = "".join(self._record), []
        if not text.strip():
            return
        try:
            fields = next(csv.reader([text]))
        except csv.Error as exc:  # a quote inside an unquoted cell, a cell over the size limit…
            if self.header is None:
                raise BadHeader(f"the header cannot be read as CSV: {exc}") from None
            yield Record(self._record_line, problem=(None, f"this row cannot be read as CSV: {exc}", "csv_invalid"), raw=(text[:200],))
            return
        if "\x00" in text:
            yield Record(self._record_line, problem=(None, "this row holds a NUL character", "csv_invalid"), raw=(text[:200],))
            return
        if self.header is None:
            self.header = [name.strip() for name in fields]
            return
        yield self._csv(self._record_line, fields)

    def _ndjson(self, line: str) -> Record:
        raw = (line.rstrip("\r\n"),)
        if "\x00" in line or "\\u0000" in line:
            return Record(self._line, problem=(None, "this line holds a NUL character", "json_invalid"), raw=raw)
        try:
            item = json.loads(line, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            return Record(self._line, problem=(None,
                "this line is not a JSON object (JSON, without NaN or Infinity)", "json_invalid"), raw=raw)
        missing = missing_key(self.kind, item)
        if missing:
            return Record(self._line, problem=(missing, f"{missing} is required in an import file", "missing"), raw=raw)
        return Record(self._line, item, raw=raw)

    def _csv(self, line: int, fields: list[str]) -> Record:
        assert self.header is not None
        raw = tuple(fields)
        if len(fields) != len(self.header):
            return Record(line, problem=(None, f"{len(fields)} cells, but the header has {len(self.header)} columns", "csv_cells"), raw=raw)
        try:
            item = csv_item(self.kind, dict(zip(self.header, fields, strict=True)))
        except BadCell as exc:
            return Record(line, problem=(exc.column, exc.message, "value_error"), raw=raw)
        missing = missing_key(self.kind, item)
        if missing:
            return Record(line, problem=(missing, f"{missing} is required in an import file", "missing"), raw=raw)
        return Record(line, item, raw=raw)
