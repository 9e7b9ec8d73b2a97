"""`toolsets serve | migrate | create-api-key`."""

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from sqlalchemy import func, select

from app.db import migrations
from app.db.embedded import EmbeddedPostgres
from app.db.engine import create_engine
from app.db.tables import api_keys
from app.kit.auth import SCOPES, insert_api_key
from app.settings import get_settings

DEV_ORGANIZATION = "dev"


def _database_url(embedded: EmbeddedPostgres | None) -> str:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    assert embedded is not None
    return embedded.start()


async def _create_key(database_url: str, organization: str, scopes: Sequence[str], name: str) -> str:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            return await insert_api_key(conn, organization, scopes, name)
    finally:
        await engine.dispose()


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
    embedded = None if get_settings().database_url else EmbeddedPostgres(get_settings().toolsets_data_dir)
    url = _database_url(embedded)
    try:
        key = asyncio.run(_create_key(url, args.organization, scopes, args.name))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if embedded:
            embedded.stop()
    print(f"API key for organization '{args.organization}' with scopes {','.join(sorted(scopes))}:")
    print(key)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    embedded = None if settings.database_url else EmbeddedPostgres(settings.toolsets_data_dir)
    url = _database_url(embedded)
    try:
        if embedded is not None:
            migrations.upgrade(url)
            key = asyncio.run(_ensure_dev_key(url))
            if key:
                print(f"Development API key (organization '{DEV_ORGANIZATION}', all scopes):\n{key}")
                print(f"  curl -H 'Authorization: Bearer {key}' http://{args.host}:{args.port}/v1/projects")
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
            workers=args.workers,
            log_config=None,
            access_log=False,
        )
    finally:
        if embedded is not None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolsets", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (embedded PostgreSQL without DATABASE_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations up to head")
    migrate.set_defaults(func=cmd_migrate)

    key = sub.add_parser("create-api-key", help="make an API key; prints it as the last line")
    key.add_argument("--organization", required=True)
    key.add_argument("--scopes", default="read,write,release", help="comma-separated: read,write,release")
    key.add_argument("--name", default="api key")
    key.set_defaults(func=cmd_create_api_key)

    openapi = sub.add_parser("openapi", help="write the OpenAPI document the app serves")
    openapi.add_argument("--output", default="openapi.json", help="a path, or - for stdout")
    openapi.set_defaults(func=cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))
