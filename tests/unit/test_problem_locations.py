"""Domain and service errors name fields only; the API puts them under the part of the request they came from."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from app.api import errors
from app.domain.errors import DomainError, FieldProblem, InvalidInput, invalid


def test_in_a_batch_item_or_an_import_row_fields_are_named_within_the_item() -> None:
    error = InvalidInput([FieldProblem(("scores", 2, "criterion"), "Unknown.", "unknown_criterion"), FieldProblem((), "Empty.", "missing")])
    problem = errors.domain_problem(error, "/v1/x")
    assert [e["loc"] for e in problem["errors"]] == [["scores", 2, "criterion"], []]


async def test_in_a_request_fields_are_named_under_body_and_the_api_s_own_under_their_part() -> None:
    raised: dict[str, DomainError] = {
        "field": invalid(("starts_at",), "In the past."),
        "whole": invalid((), "Empty."),
        "header": errors.invalid_in("header", ("Stint-Acting-For",), "Nobody."),
    }
    app = FastAPI()
    errors.install(app)

    @app.get("/{name}")
    async def fail(name: str) -> None:
        raise raised[name]

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        locs = {name: [e["loc"] for e in (await client.get(f"/{name}")).json()["errors"]] for name in raised}
    assert locs == {"field": [["body", "starts_at"]], "whole": [["body"]], "header": [["header", "Stint-Acting-For"]]}
