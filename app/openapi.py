"""The published contract: the app's OpenAPI schema as integrators read it, and `python -m app.openapi > openapi.json`.

FastAPI's own schema documents its validation shape and no credentials; `document` turns it into the contract:
every 4xx/5xx as problem+json, the responses the middleware gives, Idempotency-Key on every POST, the
security of every operation that authenticates, and the batch items validated one by one."""

from __future__ import annotations

import json
import sys
from typing import Any

from fastapi import FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic.json_schema import models_json_schema

from app.api.deps import API_KEY, PERSON_TOKEN, get_caller, get_context
from app.api.problems import PROBLEM_MEDIA_TYPE
from app.api.schemas.batch import BATCH_ITEM_MODELS
from app.settings import Settings

SECURITY = (API_KEY, PERSON_TOKEN)
"""Either credential, as `Authorization: Bearer …`: what every authenticated operation documents."""

IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Make a retry safe: the same key and body within 24 h replays the first answer "
                   "(`Idempotent-Replayed: true`); the same key with another body is a 422; while the first runs, a 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
}


def document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with every 4xx/5xx documented as problem+json instead of its default validation shape;
    built once per app (`app.openapi = lambda: document(app)`)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes, tags=app.openapi_tags)
    _document_security(app, schema)
    _document_responses(schema)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, batch_items = models_json_schema([(model, "validation") for model in BATCH_ITEM_MODELS], ref_template="#/components/schemas/{model}")
    for name, item_schema in batch_items.get("$defs", {}).items():
        components.setdefault(name, item_schema)  # the items of batch bodies, validated one by one
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    app.openapi_schema = schema
    return schema


def _document_responses(schema: dict[str, Any]) -> None:
    """What the middleware answers for any operation (413/415, Idempotency-Key's 400/409, 429), and every
    error response as problem+json."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path in schema["paths"].values():
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            if method in ("post", "put", "patch"):  # the request guard answers these for any body
                responses.setdefault("413", {"description": "Request body too large."})
                responses.setdefault("415", {"description": "Request body is not of the media type this operation takes."})
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
                malformed = "Malformed request (e.g. an Idempotency-Key that is not 1–255 printable characters)."
                responses.setdefault("400", {"description": malformed})
                responses.setdefault("409", {"description": "A request with this Idempotency-Key is still running."})
                responses.setdefault("422", {"description": "Well-formed but invalid input."})
            if "security" in operation:
                responses.setdefault("429", {"description": "Too many requests from this caller; see Retry-After."})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = {PROBLEM_MEDIA_TYPE: problem}
                    if code == "422":
                        response["description"] = "Well-formed but invalid input."


def _depends_on(dependant: Any, calls: tuple[Any, ...]) -> bool:
    return any(sub.call in calls or _depends_on(sub, calls) for sub in dependant.dependencies)


def _document_security(app: FastAPI, schema: dict[str, Any]) -> None:
    """Every operation that authenticates (depends on get_context or get_caller, which read the bearer
    credential themselves, see app.api.deps.bearer) takes an API key or a person's token."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and _depends_on(route.dependant, (get_context, get_caller)):
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = [{scheme.scheme_name: []} for scheme in SECURITY]
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    for scheme in SECURITY:
        schemes[scheme.scheme_name] = jsonable_encoder(scheme.model, by_alias=True, exclude_none=True)


def contract() -> dict[str, Any]:
    """The contract exactly as the app serves it; an in-memory URL, so building it never touches a real database."""
    from app.main import create_app  # the app factory calls `document`: imported here, not at the top, to break the cycle

    return create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(contract()))
