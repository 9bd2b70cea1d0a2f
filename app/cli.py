"""The `stint` command: serve, worker, migrate, tenants, keys, import."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from app import logs
from app.domain.errors import DomainError, InvalidInput
from app.domain.imports import ImportKind
from app.repositories.clock import SystemClock, Uuid7Ids
from app.repositories.sql.database import Database
from app.repositories.sql.migrations import upgrade_sync
from app.services import tenants
from app.settings import get_settings
from app.workers.runner import run_all
from app.workers.sender import HttpSender, delivery_limits


def _with_database(work: Callable[[Database], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        settings = get_settings()
        database = Database.from_url(settings.database_url, settings.reminder_policy(), statement_home_page=settings.public_url,
            **settings.engine_options())
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    if args.with_worker:  # read by create_app in the server process, through the settings
        os.environ["STINT_WITH_WORKER"] = "true"
        get_settings.cache_clear()
    settings = get_settings()
    uvicorn.run(
        "app.main:create_app", factory=True, host=args.host or settings.host, port=args.port or settings.port,
        log_level=settings.log_level, proxy_headers=True, timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
    )


def cmd_worker(args: argparse.Namespace) -> None:
    from app.main import worker_ports  # the worker's wiring, shared with `serve --with-worker`; loaded when needed

    settings = get_settings()
    logs.configure(settings.log_level)

    async def work(database: Database) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # logged once SIGTERM is handled: from here on it stops the worker cleanly
        logging.getLogger("stint.worker").info(json.dumps({"msg": "worker started",
            "database": database.engine.url.render_as_string(hide_password=True)}))
        async with httpx.AsyncClient(limits=delivery_limits()) as client:
            sender = HttpSender(client, timeout=settings.delivery_timeout_seconds, allow_private=settings.webhooks_allow_private)
            await run_all(worker_ports(database), sender, SystemClock(), Uuid7Ids(), settings, stop)

    _with_database(work)


def cmd_migrate(args: argparse.Namespace) -> None:
    upgrade_sync(get_settings().database_url, args.revision)
    print(f"Database at {args.revision}.")


def cmd_tenant_create(args: argparse.Namespace) -> None:
    tenant = _with_database(lambda db: tenants.create_tenant(db.directory, SystemClock(), Uuid7Ids(), args.slug, args.name))
    print(f"Created tenant '{tenant.slug}' ({tenant.id}).")


def cmd_tenant_set_idp(args: argparse.Namespace) -> None:
    jwks = json.loads(Path(args.jwks_file).read_text()) if args.jwks_file else None
    pems = tuple(Path(name).read_text() for name in args.pem_file or ())
    idp = _with_database(lambda db: tenants.set_identity_provider(
        db.directory, SystemClock(), args.slug, issuer=args.issuer, audience=args.audience, claim=args.claim, match=args.match,
        jwks=jwks, jwks_url=args.jwks_url, pem_keys=pems,
    ))
    source = "JWKS document" if idp.jwks else f"JWKS URL {idp.jwks_url}" if idp.jwks_url else f"{len(idp.pem_keys)} PEM key(s)"
    print(f"Tenant '{args.slug}' now accepts tokens from {idp.issuer} for {idp.audience} ({source}); "
          f"claim '{idp.claim}' matches a person's {idp.match.value}.")


def _scopes(values: list[str]) -> list[str]:
    return [scope for value in values for scope in value.replace(",", " ").split() if scope]


def cmd_key_create(args: argparse.Namespace) -> None:
    key, secret = _with_database(
        lambda db: tenants.create_key(db.directory, SystemClock(), Uuid7Ids(), args.tenant, args.name, _scopes(args.scopes))
    )
    print(f"Key {key.id} ({', '.join(sorted(key.scopes))}) for tenant '{args.tenant}'. It is shown only once:")
    print(secret)


def cmd_key_revoke(args: argparse.Namespace) -> None:
    _with_database(lambda db: tenants.revoke_key(db.directory, SystemClock(), args.tenant, args.key_id))
    print(f"Revoked key {args.key_id}.")


def cmd_demo(args: argparse.Namespace) -> None:
    """Create the `demo` tenant and an admin key the first time; later runs print nothing new."""

    async def work(db: Database) -> tuple[str, UUID] | None:
        if await db.directory.tenant_by_slug("demo") is not None:
            return None
        await tenants.create_tenant(db.directory, SystemClock(), Uuid7Ids(), "demo", "Demo")
        key, secret = await tenants.create_key(db.directory, SystemClock(), Uuid7Ids(), "demo", "demo admin", ["admin"])
        return secret, key.id

    created = _with_database(work)
    settings = get_settings()
    if created is None:
        print("Tenant 'demo' already exists; its admin key was printed when it was created "
              "(make another with: stint keys create --tenant demo --name me --scopes admin).")
        return
    base = f"http://{settings.host}:{settings.port}"
    secret, key_id = created
    print("Created tenant 'demo' with an admin API key (shown only this once):\n")
    print(f"    {secret}\n")
    print(f"(Its id is {key_id}: `stint keys revoke --tenant demo {key_id}` revokes it.)\n")
    print("Try it:\n")
    print(f"    curl -s {base}/v1/people -H 'Authorization: Bearer {secret}'\n")
    print(f"Interactive docs: {base}/docs\n")


def cmd_import(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from app.importer import ImportAborted, Importer

    path = Path(args.file)
    if not path.is_file():
        print(f"stint: no file {path}", file=sys.stderr)
        return 2
    key = args.key or os.environ.get("STINT_API_KEY")
    if not key:
        print("stint: give --key or set STINT_API_KEY (an API key with the write scope for this kind)", file=sys.stderr)
        return 2
    url = (args.url or os.environ.get("STINT_URL") or get_settings().public_url).rstrip("/")
    if not 1 <= args.batch_size <= 1000:
        print("stint: --batch-size is 1 to 1000", file=sys.stderr)
        return 2

    async def run() -> int:
        columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                   TextColumn("{task.fields[rows]:,} rows, {task.fields[rate]:,.0f} rows/s"), TimeElapsedColumn())
        with Progress(*columns, transient=False, disable=args.quiet) as bar:
            task = bar.add_task(f"{path.name} → {args.kind}", total=path.stat().st_size, rows=0, rate=0.0)
            started = time.monotonic()

            def progress(read: int, total: int, rows: int) -> None:
                bar.update(task, completed=read, rows=rows, rate=rows / max(time.monotonic() - started, 1e-6))

            headers = {"Authorization": f"Bearer {key}", "User-Agent": "stint-import"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=args.timeout) as client:
                importer = Importer(client, path, ImportKind(args.kind), fmt=args.format, batch_size=args.batch_size,
                                    dry_run=args.dry_run, progress=progress, retries=args.retries)
                try:
                    summary = await importer.run()
                except ImportAborted as exc:
                    print(f"stint: import stopped: {exc}", file=sys.stderr)
                    return 1
                except KeyboardInterrupt:
                    print(f"stint: interrupted; run the same command again to resume after the last batch sent ({importer.state_path})",
                          file=sys.stderr)
                    return 130
            bar.update(task, completed=path.stat().st_size)
        counts = summary.counts
        resumed = f", resumed after batch {summary.resumed_from}" if summary.resumed_from else ""
        print(f"{'Checked' if args.dry_run else 'Imported'} {summary.rows:,} rows in {summary.seconds:.1f} s{resumed}: "
              f"{counts['created']:,} created, {counts['updated']:,} updated, "
              f"{counts['unchanged']:,} unchanged, {counts['error']:,} refused.")
        if summary.errors_path is not None:
            print(f"Refused rows, with their problems: {summary.errors_path}")
            return 3
        return 0

    try:
        return asyncio.run(run())
    except KeyboardInterrupt:
        print("stint: interrupted; run the same command again to resume after the last batch sent", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stint", description="Stint micro-assignment service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="Serve the API (uvicorn).")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--with-worker", action="store_true", help="Also run the deadline sweeper in this process.")
    serve.set_defaults(func=cmd_serve)

    worker = commands.add_parser("worker", help="Run the deadline sweeper and webhook delivery until SIGTERM.")
    worker.set_defaults(func=cmd_worker)

    migrate = commands.add_parser("migrate", help="Apply database migrations (a no-op when current).")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(func=cmd_migrate)

    demo = commands.add_parser("demo", help="Create the demo tenant and print an admin key, once.")
    demo.set_defaults(func=cmd_demo)

    tenant_cmds = commands.add_parser("tenants", help="Manage tenants.").add_subparsers(dest="action", required=True)
    create_tenant = tenant_cmds.add_parser("create", help="Create a tenant.")
    create_tenant.add_argument("slug")
    create_tenant.add_argument("--name")
    create_tenant.set_defaults(func=cmd_tenant_create)
    set_idp = tenant_cmds.add_parser("set-idp", help="Configure how the tenant's people sign in (their identity provider).")
    set_idp.add_argument("slug")
    set_idp.add_argument("--issuer", required=True, help="The tokens' iss.")
    set_idp.add_argument("--audience", required=True, help="The tokens' aud.")
    keys = set_idp.add_mutually_exclusive_group(required=True)
    keys.add_argument("--jwks-file", help="A JWKS document (public keys).")
    keys.add_argument("--jwks-url", help="A JWKS URL, fetched and cached (https; http only on loopback).")
    keys.add_argument("--pem-file", action="append", help="A PEM public key file; repeat for several keys.")
    set_idp.add_argument("--claim", default="sub", help="The claim naming the person (default: sub).")
    set_idp.add_argument("--match", default="external_id", choices=["external_id", "email"], help="Which person field the claim holds.")
    set_idp.set_defaults(func=cmd_tenant_set_idp)

    importing = commands.add_parser(
        "import", help="Send a CSV or NDJSON file to a running Stint in batches (resumable).",
        description="Exit status: 0 all rows went in, 3 some rows were refused (see the errors CSV), 1 the import stopped, 2 usage.",
    )
    importing.add_argument("file", help="A .csv, .ndjson or .jsonl file (columns: docs/imports.md).")
    importing.add_argument("--kind", required=True, choices=[k.value for k in ImportKind])
    importing.add_argument("--url", help="The service (default: STINT_URL, else STINT_PUBLIC_URL).")
    importing.add_argument("--key", help="An API key (default: STINT_API_KEY).")
    importing.add_argument("--format", choices=["csv", "ndjson"], help="Default: from the file's extension.")
    importing.add_argument("--batch-size", type=int, default=500, help="Rows per request, 1 to 1000 (default 500).")
    importing.add_argument("--dry-run", action="store_true", help="Check every row on the server; write nothing.")
    importing.add_argument("--timeout", type=float, default=120.0, help="Seconds to wait for one batch.")
    importing.add_argument("--retries", type=int, default=8,
        help="Retries of a batch on network errors and 5xx (default 8, about a minute).")
    importing.add_argument("--quiet", action="store_true", help="No progress bar.")
    importing.set_defaults(func=cmd_import)

    key_cmds = commands.add_parser("keys", help="Manage integration API keys.").add_subparsers(dest="action", required=True)
    create_key = key_cmds.add_parser("create", help="Create a key; prints it once.")
    create_key.add_argument("--tenant", required=True)
    create_key.add_argument("--name", required=True)
    create_key.add_argument("--scopes", nargs="+", required=True, help=f"Any of: {', '.join(tenants.ALL_SCOPES)}.")
    create_key.set_defaults(func=cmd_key_create)
    revoke_key = key_cmds.add_parser("revoke", help="Revoke a key at once.")
    revoke_key.add_argument("--tenant", required=True)
    revoke_key.add_argument("key_id", type=UUID)
    revoke_key.set_defaults(func=cmd_key_revoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
        if isinstance(status, int):
            return status
    except InvalidInput as exc:
        print(f"stint: {'; '.join(p.msg for p in exc.problems)}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"stint: {exc.detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
