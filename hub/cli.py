"""The `replydesk` command (also `python -m hub`). Only this module exits the process."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from pathlib import Path

from hub.settings import ConfigError, Settings, default_config_path, load_settings

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "config.example.toml"


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.config)
    if path.exists() and not args.force:
        print(f"{path} exists already; leaving it as it is (use --force to overwrite)")
        return EXIT_OK
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE_CONFIG.read_text())
    secret_file = path.resolve().parent / "data" / "secrets" / "jwt_secret"
    if not secret_file.exists():
        secret_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    print(f"wrote {path}")
    print(f"generated the device-token secret in {secret_file} (mode 600)")
    print("next: `replydesk keys create NAME` for an API key, then `replydesk serve`")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from hub.app import create_app
    from hub.logs import setup_logging
    from storage import migrate

    settings = _settings(args)
    setup_logging(settings.log_level)
    migrate.upgrade(settings.database_url)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    web.run_app(create_app(settings, run_migrations=False), host=host, port=port,
                print=lambda text: print(text, flush=True), access_log=None)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from hub.doctor import FAIL, render, run_doctor

    config_valid, findings = run_doctor(Path(args.config))
    print(render(findings))
    if not config_valid:
        return EXIT_CONFIG
    return EXIT_FAILED if any(f.level == FAIL for f in findings) else EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    from storage import migrate
    from storage.db import redact_url

    if args.db_command == "migrate-to":
        return cmd_db_migrate_to(args)
    settings = _settings(args)
    if args.db_command == "upgrade":
        migrate.upgrade(settings.database_url)
        print(f"database {redact_url(settings.database_url)} at revision {migrate.head_revision()}")
    else:
        print(migrate.current_revision(settings.database_url) or "(empty database)")
    return EXIT_OK


async def _keys(settings: Settings, args: argparse.Namespace) -> int:
    from hub.clock import SystemClock
    from hub.keys import create_key, list_keys, revoke_key
    from storage import migrate
    from storage.db import Database

    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    db = Database(settings.database_url)
    now = SystemClock().now()
    try:
        if args.keys_command == "create":
            key_id, key = await create_key(db, args.name, now)
            print(f"created API key {key_id} ({args.name}). It is shown once; store it now:\n{key}")
        elif args.keys_command == "list":
            keys = await list_keys(db)
            print(f"{'id':>4}  {'name':<20} {'prefix':<12} {'created':<20} status")
            for k in keys:
                status = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
                print(f"{k.id:>4}  {k.name:<20} {k.prefix:<12} {k.created_at:%Y-%m-%d %H:%M}     {status}")
        else:
            if not await revoke_key(db, args.id, now):
                print(f"no active API key with id {args.id}", file=sys.stderr)
                return EXIT_FAILED
            print(f"revoked API key {args.id}")
    finally:
        await db.dispose()
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    return asyncio.run(_keys(_settings(args), args))


def cmd_import(args: argparse.Namespace) -> int:
    from hub.importer import run_import_command

    return run_import_command(_settings(args), args)


def cmd_eval(args: argparse.Namespace) -> int:
    from hub.evaluation import run_eval_command

    return run_eval_command(args)


def cmd_followups(args: argparse.Namespace) -> int:
    from scheduler.cli import run_followups_command

    return run_followups_command(_settings(args), args)


def cmd_db_migrate_to(args: argparse.Namespace) -> int:
    from storage.transfer import run_migrate_to_command

    return run_migrate_to_command(_settings(args), args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replydesk", description=__doc__)
    parser.add_argument("--config", default=str(default_config_path()),
                        help="configuration file (default: $REPLYDESK_CONFIG or ./config.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="write config.toml from the example, with generated secrets")
    init.add_argument("--force", action="store_true")
    init.set_defaults(func=cmd_init)
    serve = sub.add_parser("serve", help="migrate the database and serve the hub")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("doctor", help="check the configuration and what it points at").set_defaults(func=cmd_doctor)
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("db_command", choices=["upgrade", "current", "migrate-to"])
    db.add_argument("url", nargs="?", help="migrate-to: the target database URL (e.g. postgresql://...)")
    db.set_defaults(func=cmd_db)
    keys = sub.add_parser("keys", help="API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser("create").add_argument("name")
    keys_sub.add_parser("list")
    keys_sub.add_parser("revoke").add_argument("id", type=int)
    keys.set_defaults(func=cmd_keys)
    importing = sub.add_parser("import", help="bring in history: WhatsApp .txt, Telegram JSON, mbox")
    importing.add_argument("path")
    importing.add_argument("--format", choices=["auto", "whatsapp", "telegram", "mbox"], default="auto")
    importing.add_argument("--owner", default="", help="your own name or address as it appears in the export")
    importing.set_defaults(func=cmd_import)
    evaluate = sub.add_parser("eval", help="train the classifiers on the training split, score the held-out split")
    evaluate.set_defaults(func=cmd_eval)
    from scheduler.cli import add_followups_parser

    add_followups_parser(sub).set_defaults(func=cmd_followups)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
