"""Skills and briefs: request and response shapes."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from app.api.schemas.common import (
    Duration,
    ListOf,
    LongText,
    Name100,
    Name200,
    RequestModel,
    Resource,
    Text500,
    Text2000,
    Text5000,
    Text10000,
)
from app.domain import briefs as b
from app.domain.skills import Skill, SkillLevel

Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Framework = Literal["esco", "onet", "lightcast", "other"]


class SkillLevelIn(RequestModel):
    level: int = Field(ge=0, le=100, description="Ordinal of the level; higher is more proficient.")
    name: Name100
    description: Text2000 | None = None


class SkillCreate(RequestModel):
    key: Key = Field(description="Stable, unique key in the tenant, e.g. `sql.query-tuning`.")
    name: Name200
    description: Text5000 | None = None
    framework: Framework | None = Field(default=None, description="A public framework the skill maps to.")
    framework_ref: Text500 | None = Field(default=None, description="ESCO URI, O*NET code or Lightcast id.")
    levels: list[SkillLevelIn] = Field(min_length=1, max_length=20)


class SkillUpdate(RequestModel):
    """Only the fields sent change; null clears description, framework and framework_ref."""

    name: Name200 = None  # type: ignore[assignment]
    description: Text5000 | None = None
    framework: Framework | None = None
    framework_ref: Text500 | None = None
    levels: list[SkillLevelIn] = Field(default=None, min_length=1, max_length=20)  # type: ignore[arg-type]

    def changes(self) -> dict[str, Any]:
        changes = self.model_dump(exclude_unset=True)
        if "levels" in changes:
            changes["levels"] = [SkillLevel(**level) for level in changes["levels"]]
        return changes


class SkillLevelOut(BaseModel):
    level: int
    name: str
    description: str | None


class SkillOut(Resource):
    key: str
    name: str
    description: str | None
    framework: str | None
    framework_ref: str | None
    levels: list[SkillLevelOut]

    @classmethod
    def of(cls, skill: Skill) -> SkillOut:
        return cls.model_validate(skill, from_attributes=True)


class SkillList(ListOf[SkillOut]):
    pass


# -- briefs -------------------------------------------------------------------
class RubricLevelIn(RequestModel):
    score: int = Field(ge=0, le=1000)
    label: Name100
    description: Text2000 | None = None


class CriterionIn(RequestModel):
    key: Key
    title: Name200
    description: Text2000 | None = None
    weight: float = Field(default=1.0, gt=0, le=100)
    levels: list[RubricLevelIn] = Field(min_length=1, max_length=10)


class RubricIn(RequestModel):
    criteria: list[CriterionIn] = Field(min_length=1, max_length=20)
    pass_score: float | None = Field(default=None, ge=0, le=100, description="Weighted score (0–100) a pass needs.")

    def domain(self) -> b.Rubric:
        return b.Rubric(
            criteria=tuple(
                b.Criterion(
                    key=c.key, title=c.title, description=c.description, weight=c.weight,
                    levels=tuple(b.RubricLevel(score=level.score, label=level.label, description=level.description) for level in c.levels),
                )
                for c in self.criteria
            ),
            pass_score=self.pass_score,
        )


class DeliverableIn(RequestModel):
    kind: b.DeliverableKind = Field(default=b.DeliverableKind.ANY, description="What a submission must contain.")
    description: Text2000 | None = None


Tag = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$")]


class _BriefFields(RequestModel):
    title: Name200
    instructions: LongText
    skill_id: UUID
    target_level: int = Field(ge=0, le=100)
    timebox: Duration = Field(description="ISO 8601 duration, more than 0 and at most 30 days (`PT3H`, `P2D`).")
    context: Text10000 | None = Field(default=None, description="The business context of the task.")
    summary: Text500 | None = None
    deliverable: DeliverableIn = Field(default_factory=DeliverableIn)
    rubric: RubricIn
    review_within: Duration = Field(default=b.DEFAULT_REVIEW_WITHIN, description="Review SLA after submission (default P2D).")
    offer_ttl: Duration = Field(default=b.DEFAULT_OFFER_TTL, description="How long an offer stays open (default P7D).")
    max_attempts: int = Field(default=b.DEFAULT_MAX_ATTEMPTS, ge=1, le=b.MAX_ATTEMPTS)
    late_grace: Duration = Field(default=b.DEFAULT_LATE_GRACE, description="How long after due_at a late submission is still taken.")
    tags: list[Tag] = Field(default_factory=list, max_length=20)


def _content_value(name: str, value: Any, model: BriefCreate | BriefUpdate) -> Any:
    if name == "rubric":
        return model.rubric.domain()
    if name == "deliverable":  # from the model, not the dump: exclude_unset would drop nested defaults
        deliverable = model.deliverable
        return b.Deliverable(kind=deliverable.kind, description=deliverable.description)
    if name == "tags":
        return tuple(value)
    return value


class BriefCreate(_BriefFields):
    key: Key | None = Field(default=None,
        description="Your stable key for the brief, unique in the tenant; batches and imports upsert by it.")

    def content(self) -> b.BriefContent:
        data = self.model_dump(exclude={"key"})
        return b.BriefContent(**{name: _content_value(name, value, self) for name, value in data.items()})


class BriefUpdate(RequestModel):
    """Only the fields sent change; null clears context and summary. Editing a published brief starts a new draft revision."""

    title: Name200 = None  # type: ignore[assignment]
    instructions: LongText = None  # type: ignore[assignment]
    skill_id: UUID = None  # type: ignore[assignment]
    target_level: int = Field(default=None, ge=0, le=100)  # type: ignore[assignment]
    timebox: Duration = None  # type: ignore[assignment]
    context: Text10000 | None = None
    summary: Text500 | None = None
    deliverable: DeliverableIn = None  # type: ignore[assignment]
    rubric: RubricIn = None  # type: ignore[assignment]
    review_within: Duration = None  # type: ignore[assignment]
    offer_ttl: Duration = None  # type: ignore[assignment]
    max_attempts: int = Field(default=None, ge=1, le=b.MAX_ATTEMPTS)  # type: ignore[assignment]
    late_grace: Duration = None  # type: ignore[assignment]
    tags: list[Tag] = Field(default=None, max_length=20)  # type: ignore[arg-type]

    def changes(self) -> dict[str, Any]:
        data = self.model_dump(exclude_unset=True)
        return {name: _content_value(name, value, self) for name, value in data.items()}


class RubricLevelOut(BaseModel):
    score: int
    label: str
    description: str | None


class CriterionOut(BaseModel):
    key: str
    title: str
    description: str | None
    weight: float
    levels: list[RubricLevelOut]


class RubricOut(BaseModel):
    criteria: list[CriterionOut]
    pass_score: float | None


class DeliverableOut(BaseModel):
    kind: b.DeliverableKind
    description: str | None


class BriefContentOut(BaseModel):
    title: str
    summary: str | None
    instructions: str
    context: str | None
    skill_id: UUID
    target_level: int
    timebox: Duration
    deliverable: DeliverableOut
    rubric: RubricOut
    review_within: Duration
    offer_ttl: Duration
    max_attempts: int
    late_grace: Duration
    tags: list[str]


class BriefOut(Resource, BriefContentOut):
    key: str | None = Field(description="Your stable key for the brief, if it has one.")
    status: b.BriefStatus = Field(description="draft (never published), published, or archived.")
    revision: int = Field(description="The revision of the content shown; edits after publishing start a new one.")
    published_revision: int | None = Field(description="The revision new offers pin; null until published.")

    @classmethod
    def of(cls, brief: b.Brief) -> BriefOut:
        content = BriefContentOut.model_validate(brief.content, from_attributes=True)
        return cls(
            **content.model_dump(), id=brief.id, key=brief.key, status=brief.status, revision=brief.revision,
            published_revision=brief.published_revision, version=brief.version,
            created_at=brief.created_at, updated_at=brief.updated_at,
        )


class BriefList(ListOf[BriefOut]):
    pass
