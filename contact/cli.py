"""`contact serve | demo | db upgrade | operators add|list | audit verify | config | asterisk …`"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import secrets
import sys
from collections.abc import Sequence

from aiohttp import web

from contact.config import AppChannelSettings, Settings, load_settings
from contact.domain.model import Capability, Language, Operator, Role, Skills, new_id
from contact.logs import setup_logging

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="contact", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the center (HTTP, queue, channels)")
    demo = sub.add_parser("demo", help="serve with demo operators and a stream of reports")
    demo.add_argument(
        "--interval",
        type=float,
        default=8.0,
        help="mean seconds between synthetic reports (default 8)",
    )
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply the migrations")
    db_sub.add_parser("status", help="current and head revision")
    ops = sub.add_parser("operators", help="operator accounts")
    ops_sub = ops.add_subparsers(dest="ops_command", required=True)
    add = ops_sub.add_parser("add", help="add an operator (password from stdin or a prompt)")
    add.add_argument("username")
    add.add_argument("--name", help="display name (default: the username)")
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.OPERATOR.value)
    add.add_argument("--languages", default="kk,ru", help="comma list of kk, ru")
    add.add_argument(
        "--capabilities", default="voice,video,chat", help="comma list of voice, video, chat"
    )
    add.add_argument("--endpoint", help="softphone or desk phone, e.g. PJSIP/op1")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    ops_sub.add_parser("list", help="list operators")
    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the hash chain; exit 1 on any problem")
    sub.add_parser("config", help="print the effective configuration (secrets masked)")
    from contact.telephony.cli import add_commands

    add_commands(sub)
    from contact.channels.registry_cli import add_commands as add_registry_commands

    add_registry_commands(sub)  # contact kiosks … / contact sites …
    from contact.dispatch.cli import add_commands as add_dispatch_commands

    add_dispatch_commands(sub)  # contact cameras import / districts import / units …
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log)
    func = getattr(args, "func", None)
    if func is not None:  # subcommands added by other packages (telephony)
        return int(func(args) or 0)
    if args.command == "serve":
        serve(settings)
        return 0
    if args.command == "demo":
        from contact.demo import run_demo

        return run_demo(settings, interval=args.interval)
    if args.command == "config":
        print(json.dumps(settings.masked(), indent=2, ensure_ascii=False))
        return 0
    return asyncio.run(_async_command(args, settings))


def serve(settings: Settings) -> None:
    from contact.bootstrap import build
    from contact.http.app import create_app

    async def make_app() -> web.Application:
        return create_app(await build(settings))

    # SQLite work runs in aiosqlite threads, one hop per statement: with the default 5 ms
    # switch interval each hop can wait that long for the GIL while the loop is busy
    sys.setswitchinterval(0.0005)
    log.info("contact serving on http://%s:%d", settings.http.host, settings.http.port)
    web.run_app(
        make_app(),
        host=settings.http.host,
        port=settings.http.port,
        print=None,
        access_log=None,
        shutdown_timeout=5,
    )


async def _async_command(args: argparse.Namespace, settings: Settings) -> int:
    from contact.persistence.migrate import schema_status, upgrade

    if args.command == "db":
        if args.db_command == "upgrade":
            await upgrade(settings.database.url)
            print("database is at the newest schema")
            return 0
        current, head = await schema_status(settings.database.url)
        print(f"current: {current or 'empty'}  head: {head}")
        return 0 if current == head else 1
    from contact.bootstrap import prepare_database
    from contact.persistence.database import SqlDatabase

    await prepare_database(settings)
    db = await SqlDatabase.open(settings.database)
    try:
        if args.command == "operators":
            return await _operators(args, db)
        if args.command == "audit":
            problems = await db.audit.verify()
            for problem in problems:
                print(f"seq {problem.seq}: {problem.problem}")
            seq, digest = await db.audit.head()
            if problems:
                print(f"audit log: {len(problems)} problem(s) found", file=sys.stderr)
                return 1
            print(f"audit log intact: {seq} entries, head {digest}")
            return 0
    finally:
        await db.close()
    return 2


async def _operators(args: argparse.Namespace, db: object) -> int:
    from contact.http.auth import hash_password
    from contact.persistence.database import SqlDatabase

    assert isinstance(db, SqlDatabase)
    if args.ops_command == "list":
        for op in await db.operators.all():
            langs = ",".join(sorted(x.value for x in op.skills.languages))
            print(f"{op.username:20} {op.role.value:10} {langs:6} {op.display_name}")
        return 0
    try:
        skills = Skills(
            languages=frozenset(Language(x.strip()) for x in args.languages.split(",")),
            capabilities=frozenset(Capability(x.strip()) for x in args.capabilities.split(",")),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
    if len(password) < 10:
        print("error: a password needs at least 10 characters", file=sys.stderr)
        return 2
    operator = Operator(
        id=new_id(),
        username=args.username,
        display_name=args.name or args.username,
        role=Role(args.role),
        skills=skills,
        endpoint=args.endpoint,
    )
    await db.operators.add(operator, hash_password(password))
    await db.audit.append(
        "cli",
        "operator.add",
        operator.id,
        {"username": operator.username, "role": operator.role.value},
    )
    print(f"added {operator.username} ({operator.role.value})")
    return 0


def demo_settings(settings: Settings) -> tuple[Settings, str]:
    """The demo needs an app key for its synthetic citizen: the configured one or a new one."""
    keys = settings.app.keys()
    if keys:
        return settings, sorted(keys)[0]
    key = os.environ.get("CONTACT_DEMO_APP_KEY") or secrets.token_urlsafe(24)
    app = AppChannelSettings.model_validate({**settings.app.model_dump(), "api_keys": key})
    return settings.model_copy(update={"app": app}), key
