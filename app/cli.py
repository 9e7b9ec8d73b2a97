"""`toolsets serve | worker | migrate | create-api-key | list-api-keys | revoke-api-key | openapi`."""

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select

from app.api_keys.schemas import ApiKey
from app.api_keys.service import ApiKeyError, ApiKeyService
from app.db import migrations
from app.db.embedded import EmbeddedPostgres
from app.db.engine import create_engine, dispose_engine
from app.db.tables import api_keys
from app.kit.auth import KEY_CACHE_SECONDS, SCOPES, insert_api_key
from app.kit.secrets import generate_key, load_or_create_key_file
from app.settings import get_settings

DEV_ORGANIZATION = "dev"
T = TypeVar("T")
LOST_KEY_HINT = (
    "API keys exist in this database (the development key was printed on the first start). "
    "Lost it? Beside the running service: `toolsets create-api-key --organization dev --name NAME` "
    "makes another (`.venv/bin/toolsets` in a checkout); `toolsets list-api-keys` lists them."
)


def _database_url(embedded: EmbeddedPostgres | None) -> str:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    assert embedded is not None
    return embedded.start()


def _with_keys(use: Callable[[ApiKeyService], Awaitable[T]]) -> T:
    """Run one API key use case against the configured (or embedded) database."""

    async def run(url: str) -> T:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.connect() as conn:
                return await use(ApiKeyService(conn))
        finally:
            await engine.dispose()

    embedded = None if get_settings().database_url else EmbeddedPostgres(get_settings().toolsets_data_dir)
    url = _database_url(embedded)
    try:
        return asyncio.run(run(url))
    finally:
        if embedded:
            embedded.stop()


async def _ensure_dev_key(database_url: str) -> str | None:
    """On an embedded database with no key yet, make one so Swagger UI is usable at once."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            count = (await conn.execute(select(func.count()).select_from(api_keys))).scalar_one()
            if count:
                return None
            return await insert_api_key(conn, DEV_ORGANIZATION, SCOPES, "development key")
    finally:
        await engine.dispose()


def cmd_migrate(_: argparse.Namespace) -> int:
    embedded = None if get_settings().database_url else EmbeddedPostgres(get_settings().toolsets_data_dir)
    url = _database_url(embedded)
    try:
        migrations.upgrade(url)
    finally:
        if embedded:
            embedded.stop()
    print("database is at", migrations.head_revision(url))
    return 0


def cmd_create_api_key(args: argparse.Namespace) -> int:
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    try:
        raw, key = _with_keys(lambda keys: keys.create(args.organization, scopes, args.name))
    except ApiKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"API key '{key.name}' (id {key.id}, prefix {key.prefix}) for organization "
        f"'{key.organization_id}' with scopes {','.join(key.scopes)}."
    )
    print("It is shown only this once; `toolsets revoke-api-key ID` revokes it. The key:")
    print(raw)
    return 0


def _when(moment: datetime | None, empty: str) -> str:
    return moment.strftime("%Y-%m-%d %H:%MZ") if moment is not None else empty


def _key_table(keys: Sequence[ApiKey]) -> str:
    rows = [("id", "organization", "name", "prefix", "scopes", "created", "last used", "revoked")]
    rows += [
        (
            str(key.id),
            key.organization_id,
            key.name,
            key.prefix,
            ",".join(key.scopes),
            _when(key.created_at, "-"),
            _when(key.last_used_at, "never"),
            _when(key.revoked_at, "-"),
        )
        for key in keys
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def cmd_list_api_keys(args: argparse.Namespace) -> int:
    keys = _with_keys(lambda service: service.list_keys(args.organization))
    if args.json:
        print(json.dumps([key.model_dump(mode="json") for key in keys], indent=2))
    elif not keys:
        where = f" in organization '{args.organization}'" if args.organization else ""
        print(f"no API keys{where}; `toolsets create-api-key --organization ORG --name NAME` makes one")
    else:
        print(_key_table(keys))
    return 0


def cmd_revoke_api_key(args: argparse.Namespace) -> int:
    try:
        key, revoked_now = _with_keys(lambda service: service.revoke(args.key_id))
    except ApiKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if revoked_now:
        print(
            f"revoked API key '{key.name}' ({key.prefix}…) of organization '{key.organization_id}'; "
            f"every server process refuses it within {KEY_CACHE_SECONDS} s"
        )
    else:
        print(f"API key '{key.name}' ({key.prefix}…) was already revoked at {_when(key.revoked_at, '-')}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    embedded = None if settings.database_url else EmbeddedPostgres(settings.toolsets_data_dir)
    url = _database_url(embedded)
    try:
        if embedded is not None:
            migrations.upgrade(url)
            if settings.toolsets_secret_key is None:
                # The embedded setup keeps its own secret key next to its data, made on first start.
                folder = settings.toolsets_data_dir.expanduser().resolve().parent
                os.environ["TOOLSETS_SECRET_KEY"] = load_or_create_key_file(folder)
            key = asyncio.run(_ensure_dev_key(url))
            if key:
                print(f"Development API key (organization '{DEV_ORGANIZATION}', all scopes):\n{key}")
                print(f"  curl -H 'Authorization: Bearer {key}' http://{args.host}:{args.port}/v1/projects")
            else:
                print(LOST_KEY_HINT)
        # Workers are separate processes: they find the database through the environment.
        os.environ["DATABASE_URL"] = url
        get_settings.cache_clear()
        # uvicorn re-raises SIGTERM once it has shut down; turn it into an exit so that
        # the `finally` below still stops the embedded PostgreSQL.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        uvicorn.run(
            "app.main:create_served_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers or settings.workers,
            log_config=None,
            access_log=False,
        )
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


async def _run_worker(url: str, concurrency: int | None) -> None:
    from app.jobs.worker import Worker

    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"toolsets_worker_concurrency": concurrency})
    engine = create_engine(url, pool_size=2)
    try:
        async with engine.connect() as conn:
            found, expected = await migrations.current_revision(conn), migrations.head_revision(url)
        if found != expected:
            raise SystemExit(
                f"The database schema is at {found}, this build needs {expected}: run `toolsets migrate`."
            )
        worker = Worker(url, engine=engine, settings=settings)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, worker.stop)
        await worker.run()
    finally:
        await dispose_engine(engine)


def cmd_worker(args: argparse.Namespace) -> int:
    from app.kit.logging import configure_logging

    configure_logging(get_settings().toolsets_log_level)
    embedded = None if get_settings().database_url else EmbeddedPostgres(get_settings().toolsets_data_dir)
    url = _database_url(embedded)
    try:
        asyncio.run(_run_worker(url, args.concurrency))
    finally:
        if embedded:
            embedded.stop()
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    from app.main import openapi_document

    text = openapi_document()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    return 0


def cmd_generate_secret_key(_: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolsets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (embedded PostgreSQL without DATABASE_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=None, help="default: WORKERS, else 1")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run jobs (webhook deliveries, scheduled publishes) until stopped")
    worker.add_argument("--concurrency", type=int, default=None, help="jobs run at once (default 10)")
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser("migrate", help="apply database migrations up to head")
    migrate.set_defaults(func=cmd_migrate)

    key = sub.add_parser("create-api-key", help="make an API key; prints it as the last line")
    key.add_argument("--organization", required=True)
    key.add_argument(
        "--scopes",
        default="read,write,release",
        help="comma-separated, of read,write,release,approve (default read,write,release; `approve` "
        "lets the key approve reviews, so give it to reviewers' keys only)",
    )
    key.add_argument(
        "--name", default="unnamed", help="who or what uses the key; releases and audit entries show it"
    )
    key.set_defaults(func=cmd_create_api_key)

    listing = sub.add_parser("list-api-keys", help="list API keys (never the keys themselves)")
    listing.add_argument("--organization", help="only this organization's keys")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(func=cmd_list_api_keys)

    revoke = sub.add_parser("revoke-api-key", help="revoke an API key by its id (from list-api-keys)")
    revoke.add_argument("key_id", metavar="KEY_ID")
    revoke.set_defaults(func=cmd_revoke_api_key)

    secret = sub.add_parser("generate-secret-key", help="print a new key for TOOLSETS_SECRET_KEY")
    secret.set_defaults(func=cmd_generate_secret_key)

    openapi = sub.add_parser("openapi", help="write the OpenAPI document the app serves")
    openapi.add_argument("--output", default="openapi.json", help="a path, or - for stdout")
    openapi.set_defaults(func=cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))
