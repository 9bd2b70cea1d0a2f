"""Object-level authorization: what a person may see and do, decided from the data (DESIGN §4).

Integration keys are governed by scopes alone. A person (or a key acting for one) sees an assignment
when they are its assignee or reviewer, or manage its assignee at any depth; a tenant admin sees all.
Invisible is NotFound (404), never a 403 that confirms the object exists.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from app.domain.actors import Actor
from app.domain.assignment import Action, Assignment
from app.domain.briefs import Brief, BriefStatus
from app.domain.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class Standing:
    """How the calling person stands toward one assignment."""

    assignee: bool = False
    reviewer: bool = False
    offerer: bool = False
    manager: bool = False
    admin: bool = False

    @property
    def visible(self) -> bool:
        return self.assignee or self.reviewer or self.manager or self.admin


INTEGRATION = None
"""The standing of a caller with no person behind it: scopes alone decide."""


def standing(actor: Actor, assignment: Assignment, managers_of_assignee: Collection[UUID] = ()) -> Standing | None:
    me = actor.person_id
    if me is None:
        return INTEGRATION
    return Standing(
        assignee=assignment.assignee_id == me,
        reviewer=assignment.reviewer_id == me,
        offerer=assignment.offered_by.id == me or assignment.offered_by.on_behalf_of == me,
        manager=me in managers_of_assignee,
        admin=actor.is_admin,
    )


def needs_chain(actor: Actor, assignment: Assignment) -> bool:
    """Whether deciding needs the assignee's manager chain (one query), or the row alone settles it."""
    me = actor.person_id
    return me is not None and not actor.is_admin and assignment.assignee_id != me


_ROLE_FOR: dict[Action, tuple[str, str]] = {
    Action.ACCEPT: ("assignee", "forbidden.not_assignee"),
    Action.DECLINE: ("assignee", "forbidden.not_assignee"),
    Action.SUBMIT: ("assignee", "forbidden.not_assignee"),
    Action.RECLAIM: ("assignee", "forbidden.not_assignee"),
    Action.REVIEW: ("reviewer", "forbidden.not_reviewer"),
    Action.WITHDRAW: ("steward", "forbidden.not_offerer_reviewer_or_manager"),
    Action.EXTEND: ("steward", "forbidden.not_offerer_reviewer_or_manager"),
}

_DETAIL = {
    "assignee": "Only the assignee may {action} this assignment.",
    "reviewer": "Only the assignment's reviewer may review it.",
    "steward": "Only the offerer, the reviewer, a manager above the assignee or an admin may {action} this assignment.",
}


def _fits(role: str, s: Standing) -> bool:
    if role == "assignee":
        return s.assignee
    if role == "reviewer":
        return s.reviewer
    return s.offerer or s.reviewer or s.manager or s.admin


def may(action: Action, s: Standing | None) -> bool:
    return s is INTEGRATION or _fits(_ROLE_FOR[action][0], s)


def require_visible(s: Standing | None, assignment: Assignment) -> None:
    if s is not INTEGRATION and not s.visible:
        raise NotFound("assignment", assignment.id)


def require_may(action: Action, s: Standing | None) -> None:
    if not may(action, s):
        role, code = _ROLE_FOR[action]
        raise PermissionDenied(_DETAIL[role].format(action=action.value), code=code)


def listed_standing(actor: Actor, assignment: Assignment) -> Standing | None:
    """Standing toward a row of a list that was already filtered to what the caller may see.

    Such a row is visible because the caller is its assignee or reviewer, or manages its assignee.
    `manager` only ever adds withdraw/extend, which the reviewer holds anyway, so treating every
    visible row the caller is neither assignee of nor reviewer of as managed gives exact actions.
    """
    me = actor.person_id
    managed = me is not None and me not in (assignment.assignee_id, assignment.reviewer_id)
    return standing(actor, assignment, (me,) if me is not None and managed else ())


def allowed_actions(assignment: Assignment, now: datetime, actor: Actor, s: Standing | None) -> list[str]:
    """What this caller may do now: the lifecycle allows it, their scopes cover it, their standing permits it."""
    actions = assignment.allowed_actions(now, actor)
    if s is INTEGRATION:  # scopes alone decide, and allowed_actions applied them
        return actions
    return [action for action in actions if _fits(_ROLE_FOR[_ACTIONS[action]][0], s)]


_ACTIONS = {action.value: action for action in Action}


def can_see_brief(actor: Actor, brief: Brief) -> bool:
    """People see published briefs; admins and integrations see drafts and archived ones too."""
    return actor.person_id is None or actor.is_admin or brief.status is BriefStatus.PUBLISHED


def brief_as_seen_by(actor: Actor, brief: Brief) -> Brief:
    """People (not admins) see the published version, not a draft revision in progress."""
    if actor.person_id is None or actor.is_admin or brief.published is None or brief.revision == brief.published_revision:
        return brief
    return dataclasses.replace(brief, content=brief.published, revision=brief.published_revision or brief.revision)


def can_offer_to(actor: Actor, managers_of_assignee: Collection[UUID]) -> bool:
    """A manager offers to people below them; an admin or an integration to anyone."""
    return actor.person_id is None or actor.is_admin or actor.person_id in managers_of_assignee
