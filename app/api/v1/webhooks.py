"""/v1/webhooks: endpoints that receive events, signed per Standard Webhooks, with their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, Field, StringConstraints

from app.api.deps import Ctx, IfMatch, Paging, page_body, set_etag
from app.api.problems import problem_responses
from app.api.schemas.common import ListOf, RequestModel, Resource, Text500
from app.domain.webhooks import Delivery, DeliveryStatus, Webhook
from app.services import webhooks as service
from app.services.webhooks import WebhookFields

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

WebhookId = Annotated[UUID, Path(description="The webhook's id.")]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^https?://[^\s\x00-\x1f]+$")]
Pattern = Annotated[str, StringConstraints(max_length=64, pattern=r"^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)$")]


class WebhookIn(RequestModel):
    url: Url = Field(description="https only (unless the server allows private URLs for development).")
    event_types: list[Pattern] = Field(default=["*"], min_length=1, max_length=50,
        description="Types or families (`assignment.*`); `*` for all.")
    description: Text500 | None = None
    active: bool = True


class WebhookUpdate(RequestModel):
    """Only the fields sent change; null clears the description."""

    url: Url = None  # type: ignore[assignment]
    event_types: list[Pattern] = Field(default=None, min_length=1, max_length=50)  # type: ignore[arg-type]
    description: Text500 | None = None
    active: bool = None  # type: ignore[assignment]


class WebhookOut(Resource):
    url: str
    event_types: list[str]
    description: str | None
    active: bool
    disabled_reason: str | None = Field(description="Why Stint disabled it (410 Gone, or 5 days of failures).")
    previous_secret_expires_at: datetime | None = Field(description="Until when the secret before the last rotation still signs.")

    @classmethod
    def of(cls, w: Webhook) -> WebhookOut:
        return cls(
            id=w.id, version=w.version, created_at=w.created_at, updated_at=w.updated_at, url=w.url,
            event_types=list(w.event_types), description=w.description, active=w.active, disabled_reason=w.disabled_reason,
            previous_secret_expires_at=w.previous_secret_expires_at,
        )


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="The signing secret (`whsec_…`). Shown only now: store it.")


class WebhookList(ListOf[WebhookOut]):
    pass


class PingOut(BaseModel):
    event_id: UUID


class DeliveryOut(BaseModel):
    id: UUID
    event_id: UUID
    event_type: str
    subject_id: UUID
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    log: list[dict[str, Any]] = Field(
        description="Each attempt: at, status_code, error, duration_ms, and body_excerpt when the answer was not a success (the last 20).",
    )
    created_at: datetime

    @classmethod
    def of(cls, d: Delivery) -> DeliveryOut:
        return cls(
            id=d.id, event_id=d.event_id, event_type=d.event_type, subject_id=d.subject_id, status=d.status,
            attempts=d.attempts, next_attempt_at=d.next_attempt_at, last_attempt_at=d.last_attempt_at,
            last_status_code=d.last_status_code, last_error=d.last_error, log=d.log, created_at=d.created_at,
        )


class DeliveryList(ListOf[DeliveryOut]):
    pass


def _allow_private(request: Request) -> bool:
    return request.app.state.settings.webhooks_allow_private


@router.post("", status_code=status.HTTP_201_CREATED, operation_id="create_webhook", summary="Add a webhook endpoint",
             responses=problem_responses(400, 403, 415, 422))
async def create_webhook(ctx: Ctx, body: WebhookIn, request: Request, response: Response) -> WebhookWithSecret:
    webhook = await service.create(ctx, WebhookFields(body.url, tuple(body.event_types), body.description, body.active),
        _allow_private(request))
    response.headers["Location"] = f"/v1/webhooks/{webhook.id}"
    set_etag(response, webhook.version)
    return WebhookWithSecret(**WebhookOut.of(webhook).model_dump(), secret=webhook.secret)


@router.get("", operation_id="list_webhooks", summary="List webhook endpoints", responses=problem_responses(400, 403, 422))
async def list_webhooks(ctx: Ctx, paging: Paging, request: Request, response: Response) -> WebhookList:
    page = await service.list_(ctx, paging)
    return WebhookList(**page_body(request, response, page, [WebhookOut.of(w) for w in page.items]))


@router.get("/{webhook_id}", operation_id="get_webhook", summary="Get a webhook endpoint", responses=problem_responses(403, 404, 422))
async def get_webhook(ctx: Ctx, webhook_id: WebhookId, response: Response) -> WebhookOut:
    webhook = await service.get(ctx, webhook_id)
    set_etag(response, webhook.version)
    return WebhookOut.of(webhook)


@router.patch("/{webhook_id}", operation_id="update_webhook", summary="Change a webhook endpoint (re-enable it with active: true)",
              responses=problem_responses(400, 403, 404, 409, 412, 415, 422))
async def update_webhook(ctx: Ctx, webhook_id: WebhookId, body: WebhookUpdate, if_match: IfMatch, request: Request,
    response: Response) -> WebhookOut:
    changes = body.model_dump(exclude_unset=True)
    if "event_types" in changes:
        changes["event_types"] = tuple(changes["event_types"])
    webhook = await service.update(ctx, webhook_id, changes, _allow_private(request), if_match)
    set_etag(response, webhook.version)
    return WebhookOut.of(webhook)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="delete_webhook",
               summary="Remove a webhook endpoint and its pending deliveries", responses=problem_responses(403, 404, 422))
async def delete_webhook(ctx: Ctx, webhook_id: WebhookId) -> Response:
    await service.delete(ctx, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{webhook_id}/rotate-secret", operation_id="rotate_webhook_secret",
             summary="A new signing secret; the old one still signs for 24 hours", responses=problem_responses(403, 404, 422))
async def rotate_webhook_secret(ctx: Ctx, webhook_id: WebhookId, response: Response) -> WebhookWithSecret:
    webhook = await service.rotate_secret(ctx, webhook_id)
    set_etag(response, webhook.version)
    return WebhookWithSecret(**WebhookOut.of(webhook).model_dump(), secret=webhook.secret)


@router.post("/{webhook_id}/ping", status_code=status.HTTP_202_ACCEPTED, operation_id="ping_webhook",
             summary="Send a webhook.ping event to this endpoint", responses=problem_responses(403, 404, 422))
async def ping_webhook(ctx: Ctx, webhook_id: WebhookId) -> PingOut:
    return PingOut(event_id=(await service.ping(ctx, webhook_id)).id)


@router.get("/{webhook_id}/deliveries", operation_id="list_webhook_deliveries",
            summary="The delivery log, newest first: status, attempts, last answer, next attempt",
            responses=problem_responses(400, 403, 404, 422))
async def list_webhook_deliveries(ctx: Ctx, webhook_id: WebhookId, paging: Paging, request: Request, response: Response) -> DeliveryList:
    page = await service.deliveries(ctx, webhook_id, paging)
    return DeliveryList(**page_body(request, response, page, [DeliveryOut.of(d) for d in page.items]))


@router.post("/{webhook_id}/deliveries/{delivery_id}/retry", operation_id="retry_webhook_delivery",
             summary="Try a delivery again now, with a fresh retry schedule", responses=problem_responses(403, 404, 422))
async def retry_webhook_delivery(ctx: Ctx, webhook_id: WebhookId, delivery_id: Annotated[UUID, Path()]) -> DeliveryOut:
    return DeliveryOut.of(await service.retry_delivery(ctx, webhook_id, delivery_id))
