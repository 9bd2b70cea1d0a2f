"""Webhooks: endpoints that want events, and the deliveries that carry them (Standard Webhooks)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from app.domain.events import Event, type_matches

SECRET_PREFIX = "whsec_"
SECRET_OVERLAP = timedelta(hours=24)
"""After a rotation the old secret still signs (beside the new one) this long."""
FAILING_LIMIT = timedelta(days=5)
"""An endpoint that has failed every delivery for this long is disabled."""
RETRY_DELAYS = (
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=5),
    timedelta(hours=10), timedelta(hours=10), timedelta(hours=10), timedelta(hours=10), timedelta(hours=10), timedelta(hours=10),
)
"""The wait after each failed attempt: about three days in all. Each wait is jittered by up to ±10%."""
MAX_LOG = 20


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the secret's base64 part."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookKind(StrEnum):
    STANDARD = "standard"
    """Standard Webhooks: signed JSON of the event."""
    XAPI = "xapi"
    """A learning record store: xAPI statements, PUT with basic auth."""


@dataclass
class Webhook:
    id: UUID
    tenant_id: UUID
    url: str
    event_types: tuple[str, ...]
    description: str | None
    active: bool
    secret: str
    version: int
    created_at: datetime
    updated_at: datetime
    previous_secret: str | None = None
    previous_secret_expires_at: datetime | None = None
    failing_since: datetime | None = None
    disabled_reason: str | None = None
    kind: WebhookKind = WebhookKind.STANDARD
    basic_auth: str | None = None
    """For an LRS: `key:secret`."""
    xapi_home_page: str | None = None
    xapi_use_mbox: bool = False

    def wants(self, event_type: str, subject_id: UUID) -> bool:
        if self.kind is WebhookKind.XAPI:  # an LRS takes statements, and only the types that map to one;
            return event_type in self.event_types  # paused or disabled, it still queues them (sent once active again)
        if event_type.startswith("webhook."):  # about a webhook: only that webhook hears it
            return subject_id == self.id
        return self.active and any(type_matches(pattern, event_type) for pattern in self.event_types)

    def signatures(self, message_id: str, timestamp: int, body: bytes, now: datetime) -> str:
        signed = [signature(self.secret, message_id, timestamp, body)]
        if self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            signed.append(signature(self.previous_secret, message_id, timestamp, body))
        return " ".join(signed)

    def rotate(self, now: datetime) -> str:
        self.previous_secret, self.previous_secret_expires_at = self.secret, now + SECRET_OVERLAP
        self.secret = new_secret()
        return self.secret

    def public(self) -> dict[str, Any]:
        """The webhook as events carry it: never its secrets."""
        return {
            "id": self.id, "kind": self.kind.value, "url": self.url, "event_types": list(self.event_types),
            "description": self.description, "active": self.active, "disabled_reason": self.disabled_reason, "version": self.version,
        }


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass
class Delivery:
    id: UUID
    tenant_id: UUID
    webhook_id: UUID
    event_id: UUID
    event_pos: int
    """The event's `pos`: one subject's deliveries to a webhook go in this order."""
    event_type: str
    subject_id: UUID
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    payload: dict[str, Any] | None = None
    """What to send when it is not the event itself (an xAPI statement)."""


def outbox_deliveries(events: list[Event], hooks: list[Webhook], new_id: Callable[[], UUID]) -> list[Delivery]:
    """The outbox rule: one pending delivery per event and webhook that wants it, due at once. An LRS's
    delivery carries a placeholder payload that the statement it sends fills in."""
    return [
        Delivery(
            id=new_id(), tenant_id=event.tenant_id, webhook_id=hook.id, event_id=event.id, event_pos=event.pos or 0,
            event_type=event.type, subject_id=event.subject_id, status=DeliveryStatus.PENDING, attempts=0,
            next_attempt_at=event.occurred_at, created_at=event.occurred_at,
            payload={} if hook.kind is WebhookKind.XAPI else None,
        )
        for event in events for hook in hooks if hook.wants(event.type, event.subject_id)
    ]


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: float
    body_excerpt: str | None = None
    """The start of the answer's body, when it was not a success."""

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver says this endpoint no longer exists."""
        return self.status_code == 410


def record_attempt(delivery: Delivery, result: AttemptResult, now: datetime, rng: random.Random) -> None:
    """Log the attempt and decide what comes next: done, retry after the schedule's wait, or failed."""
    delivery.attempts += 1
    delivery.last_attempt_at, delivery.last_status_code, delivery.last_error = now, result.status_code, result.error
    entry: dict[str, Any] = {
        "at": now.isoformat(), "status_code": result.status_code, "error": result.error, "duration_ms": round(result.duration_ms, 1),
    }
    if result.body_excerpt is not None:
        entry["body_excerpt"] = result.body_excerpt
    delivery.log = (delivery.log + [entry])[-MAX_LOG:]
    if result.succeeded:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
    elif result.gone or delivery.attempts > len(RETRY_DELAYS):
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
    else:
        wait = RETRY_DELAYS[delivery.attempts - 1]
        delivery.next_attempt_at = now + wait * rng.uniform(0.9, 1.1)


@dataclass(frozen=True)
class Claimed:
    """A delivery the worker holds until `leased_until`, with what it needs to send it."""

    delivery: Delivery
    webhook: Webhook
    event: Event
    leased_until: datetime


@dataclass(frozen=True)
class Health:
    """What one round of attempts says about a webhook, written only if nobody changed it meanwhile."""

    tenant_id: UUID
    webhook_id: UUID
    claimed_version: int
    failing_since: datetime | None
    disable_reason: str | None = None


def retry(delivery: Delivery, now: datetime) -> None:
    """A manual retry: the delivery starts its schedule again, at once."""
    delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING, 0, now
