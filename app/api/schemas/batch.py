"""Batch requests and answers: items are validated one by one, so one bad item never blocks the others."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field, ValidationError, model_validator

from app.api.errors import validation_problem
from app.api.problems import Problem
from app.api.schemas.catalog import BriefUpdate, Key, SkillUpdate
from app.api.schemas.common import ExternalId, Name200, RequestModel, Text5000, UtcDatetime
from app.domain.batch import MAX_BATCH_ITEMS, Item, ItemStatus
from app.domain.imports import ImportKind, ImportRow
from app.services.assignments_batch import OfferRecord
from app.services.catalog_batch import BriefRecord, SkillRecord
from app.services.people_batch import PersonRecord


class PersonBatchItem(RequestModel):
    """A person by the HRIS's external_id. Fields sent replace the stored ones; fields left out are kept
    (on a new person they take their defaults). A null clears email, team, title or the manager."""

    external_id: ExternalId
    display_name: Name200 = Field(default=None, description="Required for a new person.")  # type: ignore[assignment]
    email: EmailStr | None = None
    manager_external_id: ExternalId | None = Field(default=None,
        description="The manager, by external_id: stored, or anywhere in this batch.")
    manager_id: UUID | None = Field(default=None, description="The manager by id (instead of manager_external_id).")
    team: Name200 | None = None
    title: Name200 | None = None
    active: bool = None  # type: ignore[assignment]
    is_admin: bool = Field(default=None, description="Only an admin may change it.")  # type: ignore[assignment]

    @model_validator(mode="after")
    def _one_manager(self) -> PersonBatchItem:
        if self.manager_external_id is not None and self.manager_id is not None:
            raise ValueError("name the manager by manager_external_id or by manager_id, not both")
        return self

    def record(self) -> PersonRecord:
        sent = self.model_dump(exclude_unset=True)
        manager_given = "manager_external_id" in sent or "manager_id" in sent
        fields = {k: v for k, v in sent.items() if k not in ("external_id", "manager_external_id", "manager_id")}
        return PersonRecord(self.external_id, fields, self.manager_external_id, self.manager_id, manager_given)


class SkillBatchItem(SkillUpdate):
    """A skill by key: created with what is sent (name and levels at least), or updated where it differs."""

    key: Key

    def record(self) -> SkillRecord:
        changes = self.changes()
        changes.pop("key", None)
        return SkillRecord(self.key, changes)


class BriefBatchItem(BriefUpdate):
    """A brief by key: a new draft from what is sent, or the working copy updated where it differs.
    The skill is named by `skill_id` or `skill_key`; `publish` makes the result the offerable version."""

    key: Key
    skill_key: Key = Field(default=None, description="The skill by key, instead of skill_id.")  # type: ignore[assignment]
    publish: bool = Field(default=False, description="Publish the brief after the change (a no-op when already published).")

    @model_validator(mode="after")
    def _one_skill(self) -> BriefBatchItem:
        if self.skill_key is not None and self.skill_id is not None:
            raise ValueError("name the skill by skill_id or by skill_key, not both")
        return self

    def record(self) -> BriefRecord:
        changes = self.changes()
        for name in ("key", "skill_key", "publish"):
            changes.pop(name, None)
        return BriefRecord(self.key, changes, self.skill_key, self.publish)


class OfferBatchItem(RequestModel):
    """One offer: the brief by `brief_id` or `brief_key`, the assignee by `assignee_id` or
    `assignee_external_id`, and optionally the reviewer by `reviewer_id` or `reviewer_external_id`."""

    brief_id: UUID = None  # type: ignore[assignment]
    brief_key: Key = None  # type: ignore[assignment]
    assignee_id: UUID = None  # type: ignore[assignment]
    assignee_external_id: ExternalId = None  # type: ignore[assignment]
    reviewer_id: UUID = Field(default=None, description="Defaults to the assignee's manager.")  # type: ignore[assignment]
    reviewer_external_id: ExternalId = None  # type: ignore[assignment]
    context_note: Text5000 | None = None
    offer_expires_at: UtcDatetime | None = None
    external_ref: ExternalId | None = Field(default=None,
        description="Your id for the offer: an offer already made under it is reported, not repeated.")

    @model_validator(mode="after")
    def _one_of_each(self) -> OfferBatchItem:
        for a, b, required, first, second in (
            ("brief_id", "brief_key", True, self.brief_id, self.brief_key),
            ("assignee_id", "assignee_external_id", True, self.assignee_id, self.assignee_external_id),
            ("reviewer_id", "reviewer_external_id", False, self.reviewer_id, self.reviewer_external_id),
        ):
            if first is not None and second is not None:
                raise ValueError(f"give {a} or {b}, not both")
            if required and first is None and second is None:
                raise ValueError(f"give {a} or {b}")
        return self

    def record(self) -> OfferRecord:
        return OfferRecord(
            brief_id=self.brief_id, brief_key=self.brief_key, assignee_id=self.assignee_id,
            assignee_external_id=self.assignee_external_id, reviewer_id=self.reviewer_id,
            reviewer_external_id=self.reviewer_external_id, context_note=self.context_note,
            offer_expires_at=self.offer_expires_at, external_ref=self.external_ref,
        )


def _items_schema(item: type[BaseModel]) -> Any:
    """Items are checked one by one (so a bad one is reported in its result), but documented as `item`."""
    return Field(
        min_length=0,
        description=f"Up to {MAX_BATCH_ITEMS} items (more is a 413), each processed on its own.",
        json_schema_extra={"maxItems": MAX_BATCH_ITEMS, "items": {"$ref": f"#/components/schemas/{item.__name__}"}},
    )


class PeopleBatchIn(RequestModel):
    items: Annotated[list[Any], _items_schema(PersonBatchItem)]


class SkillsBatchIn(RequestModel):
    items: Annotated[list[Any], _items_schema(SkillBatchItem)]


class BriefsBatchIn(RequestModel):
    items: Annotated[list[Any], _items_schema(BriefBatchItem)]


class OffersBatchIn(RequestModel):
    items: Annotated[list[Any], _items_schema(OfferBatchItem)]


BATCH_ITEM_MODELS: tuple[type[BaseModel], ...] = (PersonBatchItem, SkillBatchItem, BriefBatchItem, OfferBatchItem)
ITEM_MODELS: dict[ImportKind, type[BaseModel]] = {
    ImportKind.PEOPLE: PersonBatchItem, ImportKind.SKILLS: SkillBatchItem,
    ImportKind.BRIEFS: BriefBatchItem, ImportKind.ASSIGNMENTS: OfferBatchItem,
}


def validate_items(
    raw: Iterable[tuple[int, Any]], model: type[BaseModel], instance: str,
) -> tuple[list[Item[Any]], dict[int, dict[str, Any]]]:
    """Each (index, raw item) validated on its own: the records to apply, and the problems of the refused, by index."""
    items: list[Item[Any]] = []
    problems: dict[int, dict[str, Any]] = {}
    for index, value in raw:
        try:
            items.append(Item(index, model.model_validate(value).record()))  # type: ignore[attr-defined]
        except ValidationError as exc:
            problems[index] = validation_problem(exc.errors(include_url=False), instance)
    return items, problems


def decode_rows(kind: ImportKind, rows: list[ImportRow], instance: str) -> tuple[list[Item[Any]], dict[int, dict[str, Any]]]:
    """An import's rows as batch items, validated exactly as the batch endpoints validate theirs (indexed by
    line): the import worker's decoder (services.imports.Decode), handed to it by the composition root."""
    return validate_items(((row.line, row.data) for row in rows), ITEM_MODELS[kind], instance)


class BatchItemResult(BaseModel):
    index: int = Field(description="The item's position in the request, from 0.")
    status: ItemStatus = Field(description="created, updated, unchanged, or error (see problem).")
    id: UUID | None = Field(default=None, description="The resource's id; null for an error, or a creation in a dry run.")
    problem: Problem | None = Field(default=None, description="Why the item was refused, as problem details.")


class BatchCounts(BaseModel):
    created: int
    updated: int
    unchanged: int
    error: int


class BatchOut(BaseModel):
    results: list[BatchItemResult] = Field(description="One per item, in request order.")
    counts: BatchCounts
    dry_run: bool = Field(description="True when nothing was written.")


