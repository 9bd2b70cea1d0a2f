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


def Text(max_length: int, min_length: int = 0) -> type[str]:  # noqa: N802  (a type factory)
    """A string with length bounds and no control characters (newlines and tabs allowed)."""
    return Annotated[  # type: ignore[return-value]
        str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(no_control_characters),
        Field(json_schema_extra={"pattern": TEXT_PATTERN}),
    ]


def Name(max_length: int = 200) -> type[str]:  # noqa: N802
    """A one-line, non-blank name."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length, pattern=r"^[^\x00-\x1f\x7f]+$")]  # type: ignore[return-value]


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
