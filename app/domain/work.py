"""What an assignee hands in, what a reviewer hands back, and the evidence a pass leaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from app.domain.actors import ActorRef
from app.domain.briefs import CriterionScore


@dataclass(frozen=True)
class Link:
    url: str
    title: str | None = None


@dataclass(frozen=True)
class Attachment:
    name: str
    url: str
    media_type: str | None = None
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class SubmissionContent:
    body: str | None = None
    links: tuple[Link, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    time_spent: timedelta | None = None


class SubmissionStatus(StrEnum):
    ACTIVE = "active"
    RECLAIMED = "reclaimed"


@dataclass
class Submission:
    id: UUID
    tenant_id: UUID
    assignment_id: UUID
    attempt: int
    content: SubmissionContent
    submitted_by: ActorRef
    submitted_at: datetime
    late: bool
    status: SubmissionStatus = SubmissionStatus.ACTIVE
    reclaimed_at: datetime | None = None


class Outcome(StrEnum):
    PASS = "pass"
    REVISE = "revise"
    FAIL = "fail"


@dataclass(frozen=True)
class Review:
    id: UUID
    tenant_id: UUID
    assignment_id: UUID
    submission_id: UUID
    attempt: int
    reviewer_id: UUID
    reviewed_by: ActorRef
    outcome: Outcome
    scores: tuple[CriterionScore, ...]
    score: float
    feedback: str
    created_at: datetime


@dataclass(frozen=True)
class Evidence:
    id: UUID
    tenant_id: UUID
    person_id: UUID
    skill_id: UUID
    level: int
    assignment_id: UUID
    review_id: UUID
    score: float
    created_at: datetime


@dataclass(frozen=True)
class Extension:
    """One move of an assignment's due_at: who, when, from what to what, and why."""

    id: UUID
    tenant_id: UUID
    assignment_id: UUID
    attempt: int
    previous_due_at: datetime | None
    due_at: datetime
    reason: str
    reopened: bool
    extended_by: ActorRef
    created_at: datetime
