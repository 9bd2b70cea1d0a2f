"""`python -m app.openapi > openapi.json`: the published contract, exactly as the app serves it."""

from __future__ import annotations

import json
import sys
from typing import Any

from app.main import create_app
from app.settings import Settings


def contract() -> dict[str, Any]:
    # An in-memory URL: building the schema never touches a real database.
    return create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(contract()))
