"""The `stint` command, as an operator runs it (on a SQLite file of its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import cli
from app.settings import get_settings


@pytest.fixture
def stint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("STINT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run
    get_settings.cache_clear()


def test_migrate_demo_tenants_and_keys(stint) -> None:
    assert stint("migrate")[0] == 0
    assert stint("migrate")[1] == "Database at head.\n", "a second migrate is a no-op"
    code, out, _ = stint("demo")
    assert code == 0 and "stint_" in out and "Authorization: Bearer stint_" in out
    key_id = out.split("Its id is ")[1].split(":")[0]
    assert "already exists" in stint("demo")[1], "the key is shown only the first time"
    assert stint("tenants", "create", "acme", "--name", "Acme")[0] == 0
    code, _, err = stint("tenants", "create", "acme")
    assert code == 1 and "already exists" in err
    code, out, _ = stint("keys", "create", "--tenant", "acme", "--name", "hris", "--scopes", "people:write,people:read")
    assert code == 0 and out.strip().splitlines()[-1].startswith("stint_")
    code, _, err = stint("keys", "create", "--tenant", "acme", "--name", "x", "--scopes", "everything")
    assert code == 2 and "Unknown scopes: everything" in err
    assert stint("keys", "revoke", "--tenant", "demo", key_id)[0] == 0
    code, _, err = stint("keys", "revoke", "--tenant", "demo", key_id)
    assert code == 1 and "No active key" in err


def test_set_idp_needs_one_key_source(stint, tmp_path: Path) -> None:
    stint("migrate")
    stint("tenants", "create", "acme")
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    code, out, _ = stint("tenants", "set-idp", "acme", "--issuer", "https://login.example.com/", "--audience", "app", "--jwks-file", str(jwks))
    assert code == 0 and "accepts tokens from https://login.example.com/" in out
    code, _, err = stint("tenants", "set-idp", "acme", "--issuer", "https://x/", "--audience", "app", "--jwks-url", "http://idp.example.com/keys")
    assert code == 2 and "https" in err
