"""A pure ASGI middleware that refuses bodies of the wrong media type (415) or size (413) before they are read."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import PROBLEM_MEDIA_TYPE

_BODY_METHODS = {"POST", "PUT", "PATCH"}


class _TooLarge(Exception):
    pass


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _is_file(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in ("text/csv", "application/x-ndjson")


@dataclass(frozen=True)
class BodyLimits:
    json: int
    """Any JSON body."""
    batch: int
    """A batch (`…/batch`) of up to 1,000 items."""
    imports: int
    """A file sent to POST /v1/imports."""

    def for_request(self, method: str, path: str) -> tuple[int, Callable[[str], bool], str]:
        """The size limit, the media-type check and the 415's advice for this request."""
        if method == "POST" and path.rstrip("/") == "/v1/imports":
            return self.imports, _is_file, "Send the file as text/csv or application/x-ndjson."
        if path.endswith("/batch"):
            return self.batch, _is_json, "Send the request body as application/json."
        return self.json, _is_json, "Send the request body as application/json."


class RequestGuard:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        max_body_bytes, media_ok, advice = self.limits.for_request(scope["method"], scope["path"])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length_header = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        try:
            length = int(length_header) if length_header is not None else None
        except ValueError:
            await send_problem(send, scope, 400, "malformed_request", "Content-Length is not a number.")
            return
        has_body = chunked or (length is not None and length > 0)
        if has_body and not media_ok(headers.get("content-type", "")):
            await send_problem(send, scope, 415, "unsupported_media_type", advice)
            return
        if length is not None and length > max_body_bytes:
            await send_problem(send, scope, 413, "payload_too_large", f"The request body may be at most {max_body_bytes} bytes.")
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body_bytes:
                    raise _TooLarge()
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await send_problem(send, scope, 413, "payload_too_large", f"The request body may be at most {max_body_bytes} bytes.")


async def send_problem(send: Send, scope: Scope, status: int, code: str, detail: str) -> None:
    body: dict[str, Any] = {
        "type": f"urn:stint:problem:{code}", "title": HTTPStatus(status).phrase, "status": status,
        "detail": detail, "instance": scope.get("path", ""), "code": code,
    }
    payload = json.dumps(body, separators=(",", ":")).encode()
    await send({
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(payload)).encode())],
    })
    await send({"type": "http.response.body", "body": payload})
