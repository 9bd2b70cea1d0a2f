"""Domain errors. Each carries a stable machine `code`; the API maps classes to HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class DomainError(Exception):
    code: str = "domain_error"
    title: str = "Request refused"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    """Absent, or invisible to the caller (another tenant's ids land here too)."""

    code = "not_found"
    title = "Not found"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"No {kind} with id {ident}.", code="not_found")
        self.kind = kind


class InvalidTransition(DomainError):
    code = "assignment.invalid_transition"
    title = "Action not allowed in the current state"

    def __init__(self, action: str, state: str, allowed: list[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"Cannot {action} an assignment in state '{state}'. Actions allowed now: {allowed_text}.",
            state=state,
            allowed_actions=allowed,
        )


class Conflict(DomainError):
    """The request is well-formed but clashes with the current state of a resource."""

    code = "conflict"
    title = "Conflict with the current state"


class ConcurrentUpdate(Conflict):
    code = "conflict.concurrent_update"
    title = "Modified concurrently"

    def __init__(self, kind: str) -> None:
        super().__init__(f"The {kind} was changed by another request; read it again and retry.")


class PreconditionFailed(DomainError):
    code = "precondition_failed"
    title = "Precondition failed"

    def __init__(self, current_version: int) -> None:
        super().__init__(
            f"If-Match does not match the current version ({current_version}).",
            current_version=current_version,
        )


class PermissionDenied(DomainError):
    code = "forbidden"
    title = "Forbidden"


class StorageUnavailable(DomainError):
    code = "database_unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str = "The database is unreachable; retry shortly.") -> None:
        super().__init__(detail)


@dataclass(frozen=True)
class FieldProblem:
    loc: tuple[str | int, ...]
    msg: str
    type: str


class InvalidInput(DomainError):
    """Well-formed input that breaks a domain rule; lists every problem found."""

    code = "validation_failed"
    title = "Invalid input"

    def __init__(self, problems: list[FieldProblem], *, code: str | None = None) -> None:
        super().__init__(problems[0].msg if problems else "Invalid input.", code=code)
        self.problems = problems


def invalid(loc: tuple[str | int, ...], msg: str, type_: str = "value_error", *, code: str | None = None) -> InvalidInput:
    return InvalidInput([FieldProblem(loc, msg, type_)], code=code)
