"""openapi.json is the contract: it equals what the app serves, and every operation is documented."""

from __future__ import annotations

import json
from pathlib import Path

from app.openapi import contract, render

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_OPERATIONS = {
    "create_person", "list_people", "get_person", "update_person", "upsert_person", "get_skill_profile",
    "create_skill", "list_skills", "get_skill", "update_skill",
    "create_brief", "list_briefs", "get_brief", "update_brief", "publish_brief", "archive_brief",
    "offer_assignment", "list_assignments", "get_assignment", "accept_assignment", "decline_assignment",
    "withdraw_assignment", "extend_assignment", "reclaim_submission", "submit_assignment", "list_submissions",
    "review_submission", "list_reviews", "list_assignment_events", "list_extensions", "healthz",
    "get_me", "list_my_assignments", "list_my_reviews", "list_my_team", "get_identity_provider", "list_events",
    "create_webhook", "list_webhooks", "get_webhook", "update_webhook", "delete_webhook", "rotate_webhook_secret",
    "ping_webhook", "list_webhook_deliveries", "retry_webhook_delivery", "set_lrs", "get_lrs", "delete_lrs",
    "list_lrs_deliveries", "retry_lrs_delivery",
    "list_xapi_statements", "readyz", "metrics",
    "batch_upsert_people", "batch_upsert_skills", "batch_upsert_briefs", "batch_offer_assignments",
    "create_import", "list_imports", "get_import", "list_import_errors",
}


def _operations(schema: dict) -> list[dict]:
    return [op for path in schema["paths"].values() for op in path.values()]


def test_openapi_json_matches_the_app() -> None:
    committed = (ROOT / "openapi.json").read_text()
    assert committed == render(contract()), "openapi.json has drifted: run `make openapi` and commit it"


def test_every_operation_is_named_summarised_and_documents_its_errors() -> None:
    schema = contract()
    operations = _operations(schema)
    assert {op["operationId"] for op in operations} == EXPECTED_OPERATIONS
    for op in operations:
        assert op.get("summary") and op.get("tags"), op["operationId"]
        if op["operationId"] in ("healthz", "readyz", "metrics"):
            continue
        assert op.get("security") == [{"ApiKey": []}, {"PersonToken": []}], op["operationId"]
        for status in ("401", "422", "503"):
            assert status in op["responses"], (op["operationId"], status)
        for status, response in op["responses"].items():
            if status[0] in "45":
                assert list(response["content"]) == ["application/problem+json"], (op["operationId"], status)


def test_request_bodies_refuse_unknown_fields() -> None:
    schemas = contract()["components"]["schemas"]
    for name in ("PersonCreate", "OfferIn", "BriefCreate", "ReviewIn", "SubmitIn", "ExtendIn"):
        assert schemas[name].get("additionalProperties") is False, name


def test_durations_and_timestamps_are_typed_strings() -> None:
    schemas = contract()["components"]["schemas"]
    timebox = schemas["BriefCreate"]["properties"]["timebox"]
    assert timebox["type"] == "string" and timebox["format"] == "duration"
    assert schemas["AssignmentOut"]["properties"]["due_at"]["anyOf"][0]["format"] == "date-time"
    json.dumps(schemas)
