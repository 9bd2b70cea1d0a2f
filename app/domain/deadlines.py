"""Deadlines that enforce themselves: what the sweeper must do to an assignment, and when next.

`next_deadline` is the earliest moment anything is due (a transition or a reminder);
storage indexes it so a sweeper can claim due work cheaply. `sweep` does what is due at `now`.
Reminders are events, not state changes: they do not bump the version, so a reminder never
makes a client's If-Match fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.assignment import Assignment, DomainEvent, State


@dataclass(frozen=True)
class ReminderPolicy:
    due_soon_share: float = 0.2
    """`assignment.due_soon` fires when this share of the attempt's timebox is left..."""
    due_soon_min_lead: timedelta = timedelta(minutes=15)
    """...but at least this long before due_at."""
    offer_expiring_lead: timedelta = timedelta(hours=24)
    """`offer.expiring` fires this long before an offer lapses."""


def due_soon_at(assignment: Assignment, policy: ReminderPolicy) -> datetime | None:
    if assignment.starts_at is None or assignment.due_at is None:
        return None
    window = assignment.due_at - assignment.starts_at
    lead = max(window * policy.due_soon_share, policy.due_soon_min_lead)
    return max(assignment.starts_at, assignment.due_at - lead)


def offer_expiring_at(assignment: Assignment, policy: ReminderPolicy) -> datetime:
    return max(assignment.created_at, assignment.offer_expires_at - policy.offer_expiring_lead)


def next_deadline(assignment: Assignment, policy: ReminderPolicy) -> datetime | None:
    """The earliest moment the sweeper has something to do for this assignment; None when never."""
    candidates: list[datetime] = []
    if assignment.state is State.OFFERED:
        candidates.append(assignment.offer_expires_at)
        if not assignment.offer_expiring_notified:
            candidates.append(offer_expiring_at(assignment, policy))
    elif assignment.state in (State.ACCEPTED, State.REVISION_REQUESTED) and assignment.timeout_at is not None:
        candidates.append(assignment.timeout_at)
        reminder = due_soon_at(assignment, policy)
        if not assignment.due_soon_notified and reminder is not None:
            candidates.append(reminder)
    elif assignment.state is State.SUBMITTED and assignment.review_due_at is not None and not assignment.review_overdue_notified:
        candidates.append(assignment.review_due_at)
    return min(candidates) if candidates else None


def sweep(assignment: Assignment, now: datetime, policy: ReminderPolicy) -> list[DomainEvent]:
    """Do what is due at `now`: expire, time out, or send a reminder that still makes sense."""
    a = assignment
    if a.state is State.OFFERED:
        if now >= a.offer_expires_at:
            return [a.expire(now)]
        if not a.offer_expiring_notified and now >= offer_expiring_at(a, policy):
            a.offer_expiring_notified = True
            return [DomainEvent("offer.expiring", {"offer_expires_at": a.offer_expires_at})]
    elif a.state in (State.ACCEPTED, State.REVISION_REQUESTED) and a.due_at is not None:
        if a.timeout_at is not None and now >= a.timeout_at:
            return [a.time_out(now)]
        reminder = due_soon_at(a, policy)
        if not a.due_soon_notified and reminder is not None and now >= reminder:
            a.due_soon_notified = True
            if now < a.due_at:  # once due, "due soon" would only confuse
                return [DomainEvent("assignment.due_soon", {"attempt": a.attempt, "due_at": a.due_at})]
    elif a.state is State.SUBMITTED and a.review_due_at is not None:
        if not a.review_overdue_notified and now >= a.review_due_at:
            a.review_overdue_notified = True
            return [DomainEvent("review.overdue", {"review_due_at": a.review_due_at, "reviewer_id": str(a.reviewer_id)})]
    return []
