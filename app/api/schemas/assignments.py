"""Assignments, submissions, reviews and events: request and response shapes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import orjson
from cachetools import LRUCache
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from pydantic_core import to_json

from app.api.schemas.catalog import DeliverableOut, RubricOut
from app.api.schemas.common import (
    ActorOut,
    Duration,
    ExternalId,
    ListOf,
    LongText,
    Name200,
    Name255,
    RequestModel,
    Resource,
    Text5000,
    Text100000,
    UtcDatetime,
    no_control_characters,
)
from app.domain.actors import Actor
from app.domain.assignment import Action, State
from app.domain.briefs import CriterionScore
from app.domain.events import EVENT_TYPES, Event
from app.domain.work import Attachment, Extension, Link, Outcome, Review, Submission, SubmissionContent
from app.services.assignments import AssignmentView, Offer, ReviewInput

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(no_control_characters)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^https?://[^\s\x00-\x1f]+$")]


class OfferIn(RequestModel):
    brief_id: UUID = Field(description="A published brief; its current published revision is pinned.")
    assignee_id: UUID
    reviewer_id: UUID | None = Field(default=None, description="Defaults to the assignee's manager.")
    context_note: Text5000 | None = Field(default=None, description="Why this task, for this person, now.")
    offer_expires_at: UtcDatetime | None = Field(default=None, description="Defaults to now + the brief's offer_ttl.")
    external_ref: ExternalId | None = Field(default=None, description="The caller's own id for this offer; unique in the tenant.")

    def offer(self) -> Offer:
        return Offer(**self.model_dump())


class AcceptIn(RequestModel):
    starts_at: UtcDatetime | None = Field(default=None, description="When the timebox starts (now if omitted); before the offer expires.")


class DeclineIn(RequestModel):
    reason: Reason | None = None


class WithdrawIn(RequestModel):
    reason: Reason


class ExtendIn(RequestModel):
    due_at: UtcDatetime = Field(description="The new due time; must be in the future.")
    reason: Reason


class LinkIn(RequestModel):
    url: Url
    title: Name200 | None = None


class AttachmentIn(RequestModel):
    name: Name255
    url: Url
    media_type: Annotated[str, StringConstraints(max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")] | None = None
    size: int | None = Field(default=None, ge=0, le=10**13)
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None


class SubmitIn(RequestModel):
    body: Text100000 | None = Field(default=None, description="The text of the deliverable, or a note about it.")
    links: list[LinkIn] = Field(default_factory=list, max_length=20)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)
    time_spent: Duration | None = Field(default=None, description="ISO 8601 duration, e.g. PT2H30M.")

    def content(self) -> SubmissionContent:
        return SubmissionContent(
            body=self.body,
            links=tuple(Link(**link.model_dump()) for link in self.links),
            attachments=tuple(Attachment(**item.model_dump()) for item in self.attachments),
            time_spent=self.time_spent,
        )


class ScoreIn(RequestModel):
    criterion: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    score: int = Field(ge=0, le=1000)
    comment: Text5000 | None = None


class ReviewIn(RequestModel):
    outcome: Outcome
    scores: list[ScoreIn] = Field(max_length=20, description="One score per rubric criterion, each one of its levels.")
    feedback: LongText

    def review(self) -> ReviewInput:
        return ReviewInput(
            outcome=self.outcome,
            scores=[CriterionScore(criterion=s.criterion, score=s.score, comment=s.comment) for s in self.scores],
            feedback=self.feedback,
        )


class PinnedBriefOut(BaseModel):
    """The brief version the assignment was offered with; later edits never change it."""

    title: str
    summary: str | None
    instructions: str
    context: str | None
    target_level: int
    timebox: Duration
    deliverable: DeliverableOut
    rubric: RubricOut
    review_within: Duration
    late_grace: Duration


class AssignmentOut(Resource):
    state: State = Field(description="The effective state: deadlines that passed count even before the sweeper runs.")
    allowed_actions: list[Action] = Field(description="What this caller may do now.")
    brief_id: UUID
    brief_version: int
    brief: PinnedBriefOut
    skill_id: UUID
    assignee_id: UUID
    reviewer_id: UUID
    offered_by: ActorOut
    context_note: str | None
    external_ref: str | None
    attempt: int
    max_attempts: int
    offer_expires_at: datetime
    starts_at: datetime | None
    due_at: datetime | None
    submitted_at: datetime | None
    review_due_at: datetime | None
    outcome: Outcome | None
    score: float | None = Field(description="Weighted rubric score (0–100) of the latest review.")
    late: bool = Field(description="Whether the latest submission came after due_at.")

    @classmethod
    def of(cls, view: AssignmentView, now: datetime, actor: Actor) -> AssignmentOut:
        return cls(**cls.fields_of(view, now, actor))

    @staticmethod
    def fields_of(view: AssignmentView, now: datetime, actor: Actor) -> dict[str, Any]:
        """The model's fields (a subclass adds its own): the one serialiser's values, the brief as its model."""
        return _fields(view, now, actor, PinnedBriefOut.model_validate(view.assignment.brief, from_attributes=True))


class AssignmentList(ListOf[AssignmentOut]):
    pass


# -- the one serialiser ----------------------------------------------------------------------------------
# AssignmentOut.of(...) builds and validates a model per assignment, and FastAPI then dumps it; for a page
# of 50 that was most of the request. `_fields` says once what an assignment's representation holds, as
# plain values in the order AssignmentOut declares them; the model is built from them (`fields_of`), and the
# hot routes write them with orjson (`assignment_json`), the pinned brief's JSON encoded once per brief
# version. tests/unit/test_fast_json.py holds the two byte for byte equal for every state. The models stay
# the contract: routes name them as response_model.

PinnedKey = tuple[int, int, int]
"""(tenant_id, brief_id, brief_version) of a pinned brief version, frozen once published; the UUIDs as their
128-bit ints, which hash in C (a UUID's __hash__ is a Python call, half the cost of a lookup)."""

_PINNED_JSON: LRUCache[PinnedKey, orjson.Fragment] = LRUCache(maxsize=4096)
"""The pinned brief's JSON per brief version: the assignments of a page mostly share a few."""


def _fields(view: AssignmentView, now: datetime, actor: Actor, brief: Any) -> dict[str, Any]:
    a = view.assignment
    by = a.offered_by
    return {
        "id": a.id, "version": a.version, "created_at": a.created_at, "updated_at": a.updated_at,
        "state": a.effective_state(now), "allowed_actions": view.allowed_actions(now, actor),
        "brief_id": a.brief_id, "brief_version": a.brief_version, "brief": brief,
        "skill_id": a.skill_id, "assignee_id": a.assignee_id, "reviewer_id": a.reviewer_id,
        "offered_by": {"type": by.type, "id": by.id, "on_behalf_of": by.on_behalf_of},  # a StrEnum: written as its value
        "context_note": a.context_note, "external_ref": a.external_ref, "attempt": a.attempt, "max_attempts": a.max_attempts,
        "offer_expires_at": a.offer_expires_at, "starts_at": a.starts_at, "due_at": a.due_at,
        "submitted_at": a.submitted_at, "review_due_at": a.review_due_at, "outcome": a.outcome,
        "score": None if a.score is None else float(a.score), "late": a.late,
    }


def _dumps(value: Any) -> bytes:
    """orjson writes these plain values (UUIDs, UTC datetimes, enums, floats, text) byte for byte as pydantic-core
    does, at about a fifth of its cost (0.8 ms against 0.2 ms for a page of 50); OPT_UTC_Z writes UTC as `Z`."""
    return orjson.dumps(value, default=_fragment, option=orjson.OPT_UTC_Z)


def _fragment(value: Any) -> Any:
    """What orjson does not write itself: asyncpg's UUIDs (a subclass of UUID) as UUIDs are written; the rest
    (a queue item's `waited` timedelta) as pydantic-core writes it."""
    if isinstance(value, UUID):
        return str(value)
    return orjson.Fragment(to_json(value))


def _pinned_json(a: Any) -> orjson.Fragment:
    key = (a.tenant_id.int, a.brief_id.int, a.brief_version)
    try:
        return _PINNED_JSON[key]  # not .get(): on the path every item takes, it costs twice what a miss's KeyError does
    except KeyError:
        encoded = _PINNED_JSON[key] = orjson.Fragment(PinnedBriefOut.model_validate(a.brief, from_attributes=True).model_dump_json())
        return encoded


def assignment_json(view: AssignmentView, now: datetime, actor: Actor, extra: dict[str, Any] | None = None) -> bytes:
    """AssignmentOut.of(view, now, actor).model_dump_json(), without building the model; `extra` fields
    (a subclass's, such as ReviewQueueItem.waited) go last, as the subclass declares them."""
    fields = _fields(view, now, actor, _pinned_json(view.assignment))
    if extra:
        fields.update(extra)
    return _dumps(fields)


def list_json(items: list[bytes], next_cursor: str | None) -> bytes:
    """The list envelope ({"items": [...], "next_cursor": ...}) around items already in JSON."""
    return b"".join((b'{"items":[', b",".join(items), b'],"next_cursor":', _dumps(next_cursor), b"}"))


class ReviewQueueItem(AssignmentOut):
    waited: Duration = Field(description="How long the submission has waited for review.")


class ReviewQueue(ListOf[ReviewQueueItem]):
    pass


class LinkOut(BaseModel):
    url: str
    title: str | None


class AttachmentOut(BaseModel):
    name: str
    url: str
    media_type: str | None
    size: int | None
    sha256: str | None


class SubmissionOut(BaseModel):
    id: UUID
    assignment_id: UUID
    attempt: int
    status: str = Field(description="active, or reclaimed when the assignee took it back.")
    body: str | None
    links: list[LinkOut]
    attachments: list[AttachmentOut]
    time_spent: timedelta | None = Field(json_schema_extra={"format": "duration"})
    submitted_by: ActorOut
    submitted_at: datetime
    late: bool
    reclaimed_at: datetime | None

    @classmethod
    def of(cls, s: Submission) -> SubmissionOut:
        return cls(
            id=s.id, assignment_id=s.assignment_id, attempt=s.attempt, status=s.status.value, body=s.content.body,
            links=[LinkOut.model_validate(x, from_attributes=True) for x in s.content.links],
            attachments=[AttachmentOut.model_validate(x, from_attributes=True) for x in s.content.attachments],
            time_spent=s.content.time_spent, submitted_by=ActorOut.of(s.submitted_by), submitted_at=s.submitted_at,
            late=s.late, reclaimed_at=s.reclaimed_at,
        )


class SubmissionList(ListOf[SubmissionOut]):
    pass


class ScoreOut(BaseModel):
    criterion: str
    score: int
    comment: str | None


class ReviewOut(BaseModel):
    id: UUID
    assignment_id: UUID
    submission_id: UUID
    attempt: int
    reviewer_id: UUID
    reviewed_by: ActorOut
    outcome: Outcome
    scores: list[ScoreOut]
    score: float
    feedback: str
    created_at: datetime

    @classmethod
    def of(cls, r: Review) -> ReviewOut:
        return cls(
            id=r.id, assignment_id=r.assignment_id, submission_id=r.submission_id, attempt=r.attempt,
            reviewer_id=r.reviewer_id, reviewed_by=ActorOut.of(r.reviewed_by), outcome=r.outcome,
            scores=[ScoreOut.model_validate(s, from_attributes=True) for s in r.scores], score=r.score,
            feedback=r.feedback, created_at=r.created_at,
        )


class ReviewList(ListOf[ReviewOut]):
    pass


class ExtensionOut(BaseModel):
    id: UUID
    assignment_id: UUID
    attempt: int
    previous_due_at: datetime | None
    due_at: datetime
    reason: str
    reopened: bool = Field(description="Whether this extension reopened a timed-out assignment.")
    extended_by: ActorOut
    created_at: datetime

    @classmethod
    def of(cls, x: Extension) -> ExtensionOut:
        return cls(
            id=x.id, assignment_id=x.assignment_id, attempt=x.attempt, previous_due_at=x.previous_due_at, due_at=x.due_at,
            reason=x.reason, reopened=x.reopened, extended_by=ActorOut.of(x.extended_by), created_at=x.created_at,
        )


class ExtensionList(ListOf[ExtensionOut]):
    pass


class SubjectOut(BaseModel):
    type: str
    id: UUID


class EventOut(BaseModel):
    id: UUID
    type: str = Field(
        description="What happened, e.g. `assignment.accepted`. An open enum: new types may be added, so ignore unknown ones. "
                    "See docs/events.md.",
        json_schema_extra={"x-extensible-enum": list(EVENT_TYPES), "examples": ["assignment.accepted"]},
    )
    occurred_at: datetime
    actor: ActorOut
    subject: SubjectOut
    data: dict[str, Any] = Field(description="The resource after the change.")
    details: dict[str, Any] = Field(description="Facts about the change itself: reason, previous due_at...")

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(
            id=e.id, type=e.type, occurred_at=e.occurred_at, actor=ActorOut.of(e.actor),
            subject=SubjectOut(type=e.subject_type, id=e.subject_id), data=e.data, details=e.details,
        )


class EventList(ListOf[EventOut]):
    pass


class EventFeed(BaseModel):
    items: list[EventOut]
    next_cursor: str = Field(description="Pass as `after` to resume; store it. Present even when nothing new came.")
    has_more: bool = Field(description="Whether more events are ready now (poll again at once), or you are caught up.")
