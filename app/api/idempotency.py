"""Idempotency-Key on POST, as a pure ASGI middleware: it must see the whole response to replay it.

The first request with a key runs and its answer is kept for 24 hours (unless it was a 5xx, which
frees the key for a retry); the same key and body again gets that answer, marked
`Idempotent-Replayed: true`; the same key with another body is a 422; while the first is still
running, a 409. Keys belong to one tenant and one caller.
"""

from __future__ import annotations

import hashlib
import tempfile
from typing import Any
from uuid import UUID

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import Runtime, authenticate
from app.api.errors import Unauthenticated
from app.api.guard import send_problem
from app.domain.errors import DomainError, StorageUnavailable
from app.domain.idempotency import Begun, StoredResponse, replayable_headers, valid_key


class Idempotency:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not valid_key(key):
            await send_problem(send, scope, 400, "idempotency.invalid_key",
                "Idempotency-Key is 1–255 printable ASCII characters, no spaces.")
            return
        runtime: Runtime = scope["app"].state.runtime
        authorization = headers.get("authorization", "")
        try:
            actor = await authenticate(runtime, authorization.partition(" ")[2].strip())
        except (Unauthenticated, DomainError):
            await self.app(scope, receive, send)  # the app answers 401 (or 503) itself
            return
        digest = hashlib.sha256(scope["path"].encode() + b"?" + scope.get("query_string", b"") + b"\n")
        spool, replay_receive = await _spooled(receive, digest)
        fingerprint = digest.hexdigest()
        caller = f"{actor.type.value}:{actor.id}:{headers.get('stint-acting-for', '')}"
        with spool:
            await self._keyed(scope, send, replay_receive, runtime, actor.tenant_id, caller, key, fingerprint)

    async def _keyed(
        self, scope: Scope, send: Send, receive: Receive, runtime: Runtime, tenant: UUID, caller: str, key: str, fingerprint: str,
    ) -> None:
        store = runtime.idempotency
        try:
            attempt = await store.begin_idempotent(tenant, caller, key, fingerprint, runtime.clock.now())
        except StorageUnavailable as exc:
            await send_problem(send, scope, 503, exc.code, exc.detail)
            return
        if attempt.outcome is Begun.MISMATCH:
            await send_problem(send, scope, 422, "idempotency.key_reused",
                "This Idempotency-Key was used with a different request; use a new key.")
            return
        if attempt.outcome is Begun.IN_FLIGHT:
            await send_problem(send, scope, 409, "idempotency.in_flight",
                "A request with this Idempotency-Key is still running; retry shortly.")
            return
        if attempt.outcome is Begun.REPLAY and attempt.response is not None:
            await _replay(send, attempt.response)
            return

        captured: dict[str, Any] = {"status": 500, "headers": [], "body": []}

        async def capturing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capturing_send)
        except BaseException:
            await store.release_idempotent(tenant, caller, key)
            raise
        if captured["status"] >= 500:
            await store.release_idempotent(tenant, caller, key)
        else:
            stored = StoredResponse(captured["status"], replayable_headers(captured["headers"]), b"".join(captured["body"]))
            await store.finish_idempotent(tenant, caller, key, stored)


SPOOL_IN_MEMORY = 1024 * 1024
"""Bodies up to this size stay in memory; larger ones (import files) go to a temporary file."""
REPLAY_CHUNK = 64 * 1024


async def _spooled(receive: Receive, digest: Any) -> tuple[Any, Receive]:
    """Read the whole body (the request guard has already bounded its size) into a spool, hashing it
    on the way, and hand it on again in pieces: a 100 MB import is never held in memory."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        digest.update(chunk)
        spool.write(chunk)
        more = message.get("more_body", False)
    size = spool.tell()
    spool.seek(0)
    done = False

    async def replay() -> Message:
        nonlocal done
        if not done:
            chunk = spool.read(REPLAY_CHUNK)
            more_body = bool(chunk) and spool.tell() < size
            done = not more_body
            return {"type": "http.request", "body": chunk, "more_body": more_body}
        return await receive()

    return spool, replay


async def _replay(send: Send, response: StoredResponse) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
    headers += [(b"idempotent-replayed", b"true"), (b"content-length", str(len(response.body)).encode())]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
