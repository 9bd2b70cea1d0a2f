"""Fakes of outbound ports that belong to tests, not to the app: a webhook receiver that answers as told."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.domain.webhooks import AttemptResult


@dataclass(frozen=True)
class SentRequest:
    url: str
    headers: dict[str, str]
    body: bytes
    method: str


@dataclass
class FakeSender:
    """A WebhookSender that records every request and answers with the status set for the URL's start (200 if none).

    `answer(prefix, None, "connection refused")` makes a network failure: no status code, an error.
    `while_sending`: run while a request is in flight (what someone else does meanwhile)."""

    sent: list[SentRequest] = field(default_factory=list)
    answers: dict[str, tuple[int | None, str | None]] = field(default_factory=dict)
    while_sending: Callable[[SentRequest], Awaitable[None]] | None = None

    def answer(self, url_prefix: str, status_code: int | None, error: str | None = None) -> None:
        self.answers[url_prefix] = (status_code, error)

    async def send(self, url: str, headers: dict[str, str], body: bytes, method: str = "POST") -> AttemptResult:
        request = SentRequest(url, headers, body, method)
        self.sent.append(request)
        if self.while_sending is not None:
            await self.while_sending(request)
        matches = [prefix for prefix in self.answers if url.startswith(prefix)]
        status_code, error = self.answers[max(matches, key=len)] if matches else (200, None)
        return AttemptResult(status_code, error, 12.0)

    def to(self, url_prefix: str) -> list[SentRequest]:
        return [request for request in self.sent if request.url.startswith(url_prefix)]
