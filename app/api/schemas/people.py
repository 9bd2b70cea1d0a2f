"""People: request and response shapes."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field

from app.api.schemas.common import ExternalId, ListOf, Name200, RequestModel, Resource
from app.domain.people import Person
from app.services.people import PersonFields, SkillStanding


class PersonUpsert(RequestModel):
    """A full person record keyed by the path's external_id (PUT replaces every field)."""

    display_name: Name200
    email: EmailStr | None = None
    manager_id: UUID | None = Field(default=None, description="The person's manager, a person in the same tenant.")
    team: Name200 | None = None
    title: Name200 | None = None
    active: bool = True
    is_admin: bool = Field(default=False, description="A tenant admin; only an admin may set it.")

    def fields(self) -> PersonFields:
        return PersonFields(**self.model_dump())


class PersonCreate(PersonUpsert):
    external_id: ExternalId = Field(description="The HRIS's identifier for the person; unique in the tenant.")

    def fields(self) -> PersonFields:
        return PersonFields(**self.model_dump(exclude={"external_id"}))


class PersonUpdate(RequestModel):
    """Only the fields sent change; null clears email, manager_id, team and title."""

    external_id: ExternalId = None  # type: ignore[assignment]
    display_name: Name200 = None  # type: ignore[assignment]
    email: EmailStr | None = None
    manager_id: UUID | None = None
    team: Name200 | None = None
    title: Name200 | None = None
    active: bool = None  # type: ignore[assignment]
    is_admin: bool = None  # type: ignore[assignment]

    def changes(self) -> dict:
        return self.model_dump(exclude_unset=True)


class PersonOut(Resource):
    external_id: str
    display_name: str
    email: str | None
    manager_id: UUID | None
    team: str | None
    title: str | None
    active: bool
    is_admin: bool

    @classmethod
    def of(cls, person: Person) -> PersonOut:
        return cls.model_validate(person, from_attributes=True)


class PersonList(ListOf[PersonOut]):
    pass


class EvidenceOut(BaseModel):
    id: UUID
    level: int
    score: float
    assignment_id: UUID
    review_id: UUID
    created_at: datetime


class SkillStandingOut(BaseModel):
    skill_id: UUID
    skill_key: str
    skill_name: str
    level: int = Field(description="The highest level shown by passing reviews.")
    level_name: str | None
    evidence: list[EvidenceOut]

    @classmethod
    def of(cls, standing: SkillStanding) -> SkillStandingOut:
        level = standing.skill.level(standing.level)
        return cls(
            skill_id=standing.skill.id, skill_key=standing.skill.key, skill_name=standing.skill.name,
            level=standing.level, level_name=None if level is None else level.name,
            evidence=[
                EvidenceOut(id=e.id, level=e.level, score=e.score, assignment_id=e.assignment_id, review_id=e.review_id,
                            created_at=e.created_at)
                for e in standing.evidence
            ],
        )


class SkillProfileOut(BaseModel):
    person_id: UUID
    skills: list[SkillStandingOut]


class MeOut(BaseModel):
    person: PersonOut
    manager: PersonOut | None
    is_admin: bool


class TeamMemberOut(BaseModel):
    person: PersonOut
    depth: int = Field(description="1 for a direct report, 2 for their reports, and so on.")
    open_assignments: int = Field(description="Offered, accepted, submitted or in revision, by effective state.")


class TeamList(ListOf[TeamMemberOut]):
    pass
