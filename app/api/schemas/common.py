"""Types shared by every request and response schema."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from app.domain.actors import ActorRef

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d{1,6})W)?(?:(?P<days>\d{1,7})D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d{1,8})H)?(?:(?P<minutes>\d{1,9})M)?(?:(?P<seconds>\d{1,11})S)?)?$"
)


def parse_duration(value: object) -> timedelta:
    """ISO 8601 durations in weeks, days, hours, minutes and whole seconds (`PT3H`, `P2D`, `P1DT12H`).

    Years and months are refused: their length depends on the calendar.
    """
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("a duration is an ISO 8601 string such as 'PT3H' or 'P2D'")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"'{value[:40]}' is not an ISO 8601 duration such as 'PT3H' or 'P2D' (weeks, days, hours, minutes, whole seconds)")
    parts = {name: int(number) for name, number in match.groupdict().items() if number is not None}
    return timedelta(**parts)


DURATION_PATTERN = r"^P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$"

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    Field(json_schema_extra={"type": "string", "format": "duration", "pattern": DURATION_PATTERN, "examples": ["PT3H", "P2D"]}),
]


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range") from exc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An RFC 3339 timestamp with an offset; stored and returned in UTC with `Z`."""


def no_control_characters(value: str) -> str:
    if any((ord(ch) < 32 and ch not in "\n\r\t") or ord(ch) == 0x7F for ch in value):
        raise ValueError("control characters are not allowed")
    return value


TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$"


_NO_CONTROL = AfterValidator(no_control_characters)
_TEXT_SCHEMA = Field(json_schema_extra={"pattern": TEXT_PATTERN})
_NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"

# Texts: length bounds and no control characters (newlines and tabs allowed).
Text500 = Annotated[str, StringConstraints(min_length=0, max_length=500), _NO_CONTROL, _TEXT_SCHEMA]
Text2000 = Annotated[str, StringConstraints(min_length=0, max_length=2000), _NO_CONTROL, _TEXT_SCHEMA]
Text5000 = Annotated[str, StringConstraints(min_length=0, max_length=5000), _NO_CONTROL, _TEXT_SCHEMA]
Text10000 = Annotated[str, StringConstraints(min_length=0, max_length=10000), _NO_CONTROL, _TEXT_SCHEMA]
Text100000 = Annotated[str, StringConstraints(min_length=0, max_length=100_000), _NO_CONTROL, _TEXT_SCHEMA]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=20000), _NO_CONTROL, _TEXT_SCHEMA]
"""Instructions and feedback: up to 20,000 characters, not empty."""

# Names: one line, not blank.
Name100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=_NAME_PATTERN)]
Name200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_NAME_PATTERN)]
Name255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=_NAME_PATTERN)]


ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f/]+$")]


class RequestModel(BaseModel):
    """Request bodies refuse unknown fields, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


class ActorOut(BaseModel):
    type: str = Field(description="api_key, person or system.")
    id: UUID | None
    on_behalf_of: UUID | None = Field(default=None, description="The person an integration key acted for.")

    @classmethod
    def of(cls, ref: ActorRef) -> ActorOut:
        return cls(type=ref.type.value, id=ref.id, on_behalf_of=ref.on_behalf_of)


class Resource(BaseModel):
    id: UUID
    version: int = Field(description="Increases on every change; the ETag.")
    created_at: datetime
    updated_at: datetime


T = TypeVar("T")


class ListOf(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
