"""A pure ASGI middleware that refuses bodies of the wrong media type (415) or size (413) before they are read."""

from __future__ import annotations

import json
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


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length_header = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        try:
            length = int(length_header) if length_header is not None else None
        except ValueError:
            await send_problem(send, scope, 400, "malformed_request", "Content-Length is not a number.")
            return
        has_body = chunked or (length is not None and length > 0)
        if has_body and not _is_json(headers.get("content-type", "")):
            await send_problem(send, scope, 415, "unsupported_media_type", "Send the request body as application/json.")
            return
        if length is not None and length > self.max_body_bytes:
            await send_problem(send, scope, 413, "payload_too_large", f"The request body may be at most {self.max_body_bytes} bytes.")
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
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
                await send_problem(send, scope, 413, "payload_too_large", f"The request body may be at most {self.max_body_bytes} bytes.")


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
