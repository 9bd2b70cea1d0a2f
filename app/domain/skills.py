"""The tenant's skill catalogue: skills with ordered levels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.domain.errors import FieldProblem, InvalidInput


@dataclass(frozen=True)
class SkillLevel:
    level: int
    name: str
    description: str | None = None


@dataclass
class Skill:
    id: UUID
    tenant_id: UUID
    key: str
    name: str
    description: str | None
    framework: str | None
    framework_ref: str | None
    levels: tuple[SkillLevel, ...]
    version: int
    created_at: datetime
    updated_at: datetime

    def level(self, level: int) -> SkillLevel | None:
        return next((item for item in self.levels if item.level == level), None)


def normalise_levels(levels: list[SkillLevel]) -> tuple[SkillLevel, ...]:
    """Levels are distinct and kept in ascending order."""
    loc = ("levels",)
    problems: list[FieldProblem] = []
    if not levels:
        problems.append(FieldProblem(loc, "A skill needs at least one level.", "too_short"))
    seen: set[int] = set()
    for index, item in enumerate(levels):
        if item.level in seen:
            problems.append(FieldProblem((*loc, index, "level"), f"Level {item.level} appears twice.", "duplicate"))
        seen.add(item.level)
    if problems:
        raise InvalidInput(problems)
    return tuple(sorted(levels, key=lambda item: item.level))
