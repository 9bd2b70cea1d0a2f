"""What every served or pushed xAPI statement must pass: the spec's rules as an LRS checks them, and two
independent libraries' parsers (ADL's `tincan`, Ralph's statement models)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

from ralph.models.xapi.base.statements import BaseXapiStatement
from tincan import Statement

DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
RFC_4122_VERSIONS = {1, 2, 3, 4, 5}


def is_iri(value: str) -> bool:
    return bool(urlparse(value).scheme)


def assert_valid_statement(s: dict[str, Any]) -> None:
    """The xAPI 1.0.3 rules a conformant LRS checks on what Stint sends, then tincan's and Ralph's parsers."""
    UUID(s["id"])
    actor = s["actor"]
    assert actor["objectType"] == "Agent"
    identifiers = [key for key in ("mbox", "account") if key in actor]
    assert len(identifiers) == 1, "exactly one inverse functional identifier"
    if "account" in actor:
        assert is_iri(actor["account"]["homePage"]) and actor["account"]["name"]
    else:
        assert actor["mbox"].startswith("mailto:")
    assert is_iri(s["verb"]["id"]) and s["verb"]["display"]["en-US"]
    assert s["object"]["objectType"] == "Activity" and is_iri(s["object"]["id"])
    assert is_iri(s["object"]["definition"]["type"])
    for activity in s["context"]["contextActivities"]["category"]:
        assert is_iri(activity["id"]) and is_iri(activity["definition"]["type"])
    assert UUID(s["context"]["registration"]).version in RFC_4122_VERSIONS, "version-strict libraries refuse others"
    assert all(is_iri(key) for key in s["context"]["extensions"])
    assert TIMESTAMP.match(s["timestamp"])
    result = s.get("result", {})
    if "score" in result:
        assert -1 <= result["score"]["scaled"] <= 1
        assert result["score"]["min"] <= result["score"]["raw"] <= result["score"]["max"]
    if "duration" in result:
        assert DURATION.match(result["duration"]), result["duration"]
    parsed = Statement.from_json(json.dumps(s))  # ADL's tincan: raises on what it cannot take
    assert str(parsed.id) == s["id"] and str(parsed.context.registration) == s["context"]["registration"]
    BaseXapiStatement.model_validate(s)  # Ralph's models: raises a ValidationError
