"""Briefs: the reusable, versioned definition of a micro-assignment, with its rubric."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from app.domain.errors import Conflict, FieldProblem, InvalidInput
from app.domain.skills import Skill

MAX_TIMEBOX = timedelta(days=30)
MAX_REVIEW_WITHIN = timedelta(days=30)
MAX_OFFER_TTL = timedelta(days=90)
MAX_LATE_GRACE = timedelta(days=7)
MAX_ATTEMPTS = 10

DEFAULT_REVIEW_WITHIN = timedelta(days=2)
DEFAULT_OFFER_TTL = timedelta(days=7)
DEFAULT_LATE_GRACE = timedelta(0)
DEFAULT_MAX_ATTEMPTS = 2


class DeliverableKind(StrEnum):
    TEXT = "text"
    LINK = "link"
    FILE = "file"
    ANY = "any"


@dataclass(frozen=True)
class Deliverable:
    kind: DeliverableKind = DeliverableKind.ANY
    description: str | None = None


@dataclass(frozen=True)
class RubricLevel:
    score: int
    label: str
    description: str | None = None


@dataclass(frozen=True)
class Criterion:
    key: str
    title: str
    weight: float
    levels: tuple[RubricLevel, ...]
    description: str | None = None

    @property
    def max_score(self) -> int:
        return max(level.score for level in self.levels)


@dataclass(frozen=True)
class CriterionScore:
    criterion: str
    score: int
    comment: str | None = None


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[Criterion, ...]
    pass_score: float | None = None

    def problems(self, loc: tuple[str | int, ...]) -> list[FieldProblem]:
        found: list[FieldProblem] = []
        keys: set[str] = set()
        for index, criterion in enumerate(self.criteria):
            where = (*loc, "criteria", index)
            if criterion.key in keys:
                found.append(FieldProblem((*where, "key"), f"Criterion key '{criterion.key}' appears twice.", "duplicate"))
            keys.add(criterion.key)
            scores = [level.score for level in criterion.levels]
            if len(set(scores)) != len(scores):
                found.append(FieldProblem((*where, "levels"), "Each level of a criterion needs a distinct score.", "duplicate"))
            if scores and max(scores) <= 0:
                found.append(FieldProblem((*where, "levels"), "At least one level must score above 0.", "value_error"))
        return found

    def score(self, scores: list[CriterionScore]) -> float:
        """Weighted score 0–100. Every criterion is scored exactly once with one of its levels."""
        by_key = {criterion.key: criterion for criterion in self.criteria}
        found: list[FieldProblem] = []
        seen: set[str] = set()
        for index, item in enumerate(scores):
            criterion = by_key.get(item.criterion)
            if criterion is None:
                found.append(FieldProblem(
                    ("scores", index, "criterion"), f"The rubric has no criterion '{item.criterion}'.", "unknown_criterion",
                ))
                continue
            if item.criterion in seen:
                found.append(FieldProblem(("scores", index, "criterion"), f"Criterion '{item.criterion}' is scored twice.", "duplicate"))
            seen.add(item.criterion)
            allowed = sorted(level.score for level in criterion.levels)
            if item.score not in allowed:
                found.append(FieldProblem(
                    ("scores", index, "score"), f"Score {item.score} is not a level of '{item.criterion}'; allowed: {allowed}.",
                    "invalid_score",
                ))
        missing = [key for key in by_key if key not in seen]
        if missing:
            found.append(FieldProblem(("scores",), f"Every criterion must be scored; missing: {', '.join(missing)}.", "missing_criterion"))
        if found:
            raise InvalidInput(found, code="review.invalid_scores")
        total_weight = sum(criterion.weight for criterion in self.criteria)
        weighted = sum(by_key[item.criterion].weight * item.score / by_key[item.criterion].max_score for item in scores)
        return round(100 * weighted / total_weight, 2)


@dataclass(frozen=True)
class BriefContent:
    """Everything an assignment pins when it is offered: a frozen brief version."""

    title: str
    instructions: str
    skill_id: UUID
    target_level: int
    timebox: timedelta
    rubric: Rubric
    context: str | None = None
    summary: str | None = None
    deliverable: Deliverable = field(default_factory=Deliverable)
    review_within: timedelta = DEFAULT_REVIEW_WITHIN
    offer_ttl: timedelta = DEFAULT_OFFER_TTL
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    late_grace: timedelta = DEFAULT_LATE_GRACE
    tags: tuple[str, ...] = ()

    def check(self, skill: Skill | None) -> None:
        """Raise InvalidInput listing every rule the content breaks."""
        found: list[FieldProblem] = []

        def window(name: str, value: timedelta, low: timedelta, high: timedelta, low_inclusive: bool) -> None:
            too_low = value < low if low_inclusive else value <= low
            if too_low or value > high:
                bound = "at least" if low_inclusive else "more than"
                found.append(FieldProblem(
                    (name,), f"{name} must be {bound} {_human(low)} and at most {_human(high)}.", "duration_out_of_range",
                ))

        window("timebox", self.timebox, timedelta(0), MAX_TIMEBOX, False)
        window("review_within", self.review_within, timedelta(0), MAX_REVIEW_WITHIN, False)
        window("offer_ttl", self.offer_ttl, timedelta(0), MAX_OFFER_TTL, False)
        window("late_grace", self.late_grace, timedelta(0), MAX_LATE_GRACE, True)
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS:
            found.append(FieldProblem(("max_attempts",), f"max_attempts must be between 1 and {MAX_ATTEMPTS}.", "value_error"))
        if skill is None:
            found.append(FieldProblem(("skill_id",), f"No skill with id {self.skill_id}.", "unknown_skill"))
        elif skill.level(self.target_level) is None:
            levels = [level.level for level in skill.levels]
            found.append(FieldProblem(
                ("target_level",), f"Skill '{skill.key}' has no level {self.target_level}; its levels are {levels}.", "unknown_level",
            ))
        found.extend(self.rubric.problems(("rubric",)))
        if found:
            raise InvalidInput(found)


def _human(value: timedelta) -> str:
    if value == timedelta(0):
        return "0"
    if value % timedelta(days=1) == timedelta(0):
        return f"{value.days} days"
    return f"{int(value.total_seconds())} seconds"


class BriefStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


@dataclass
class Brief:
    """`content` is the working copy (revision `revision`); `published` is the offerable version."""

    id: UUID
    tenant_id: UUID
    content: BriefContent
    status: BriefStatus
    revision: int
    published_revision: int | None
    published: BriefContent | None
    version: int
    created_at: datetime
    updated_at: datetime
    key: str | None = None
    """The caller's stable key for the brief (unique in the tenant), for upserts from a library or a file."""

    def edit(self, content: BriefContent) -> None:
        """A draft changes in place; editing the published revision starts a new draft revision."""
        if self.status is BriefStatus.ARCHIVED:
            raise Conflict("An archived brief cannot be edited.", code="brief.archived")
        if self.revision == self.published_revision:
            self.revision += 1
        self.content = content

    def publish(self) -> bool:
        """Freeze the working copy as the offerable version. False when it already is."""
        if self.status is BriefStatus.ARCHIVED:
            raise Conflict("An archived brief cannot be published.", code="brief.archived")
        if self.published_revision == self.revision:
            return False
        self.published = replace(self.content)
        self.published_revision = self.revision
        self.status = BriefStatus.PUBLISHED
        return True

    def archive(self) -> bool:
        if self.status is BriefStatus.ARCHIVED:
            return False
        self.status = BriefStatus.ARCHIVED
        return True

    def offerable(self) -> BriefContent:
        if self.status is BriefStatus.ARCHIVED:
            raise Conflict("This brief is archived and cannot be offered.", code="brief.archived")
        if self.published is None:
            raise Conflict("Only published briefs can be offered; publish this brief first.", code="brief.not_published")
        return self.published
