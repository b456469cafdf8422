"""`contact serve | demo | db upgrade | operators add|list | audit verify | inbox failed|retry |
config | asterisk … | triage lexicon … | models …`"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Sequence

from aiohttp import web
from pydantic import ValidationError

from contact.channels.alarm.cli import add_commands as add_site_commands
from contact.channels.chat.cli import add_commands as add_chat_commands
from contact.channels.kiosk.cli import add_commands as add_kiosk_commands
from contact.config import Settings, explain, load_settings
from contact.dispatch.cli import add_commands as add_dispatch_commands
from contact.domain.model import (
    Capability,
    Gender,
    Language,
    Operator,
    Role,
    Skills,
    UiLanguage,
    new_id,
)
from contact.errors import ConfigError
from contact.http.auth import hash_password
from contact.logs import setup_logging
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import prepare_database, schema_status, upgrade
from contact.simulate.cli import add_commands as add_simulate_commands
from contact.telephony.cli import add_commands as add_telephony_commands
from contact.telephony.runner import AsteriskRunner
from contact.transcribe.cli import add_commands as add_models_commands
from contact.triage.cli import add_commands as add_triage_commands

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
    demo.add_argument(
        "--no-voice",
        action="store_true",
        help="do not start Asterisk and the synthetic 102 callers",
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
        "--ui-language",
        choices=[x.value for x in UiLanguage],
        help="the language of her pages (default: the browser's choice)",
    )
    add.add_argument(
        "--gender",
        choices=[x.value for x in Gender],
        default=Gender.OTHER.value,
        help="the form texts about her take («Отошла»/«Отошёл»); other: neutral wording",
    )
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
    add_chat_commands(sub)  # contact inbox failed|retry
    sub.add_parser("config", help="print the effective configuration (secrets masked)")

    add_telephony_commands(sub)  # contact asterisk … / calls …
    add_kiosk_commands(sub)  # contact kiosks import|list|key
    add_site_commands(sub)  # contact sites import|list|rotate-key
    add_dispatch_commands(sub)  # contact cameras import / districts import / units …
    add_triage_commands(sub)  # contact triage lexicon list|add|remove|import
    add_models_commands(sub)  # contact models install / add / list / remove
    add_simulate_commands(sub, AsteriskRunner)  # contact simulate SCENARIO
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as exc:  # refuse at start what the code cannot honour, clearly
        print(f"contact: invalid configuration:\n{explain(exc)}", file=sys.stderr)
        return 2
    setup_logging(settings.log)
    func = getattr(args, "func", None)
    if func is not None:  # subcommands added by other packages (telephony)
        return int(func(args) or 0)
    if args.command in ("serve", "demo") and (refused := _plugins_refused(settings)):
        print(f"contact: invalid configuration: {refused}", file=sys.stderr)
        return 2
    if args.command == "serve":
        serve(settings)
        return 0
    if args.command == "demo":
        from contact.demo import run_demo  # the whole center: imported only to run it

        return run_demo(settings, interval=args.interval, voice=not args.no_voice)
    if args.command == "config":
        print(json.dumps(settings.masked(), indent=2, ensure_ascii=False))
        return 0
    return asyncio.run(_async_command(args, settings))


def _plugins_refused(settings: Settings) -> str | None:
    """Why the enabled plugins cannot run together (one lacks a plugin it requires), if so."""
    from contact.plugins import enabled_plugins  # every feature: only for serve and demo

    try:
        enabled_plugins(settings)
    except ConfigError as exc:
        return exc.message
    return None


def serve(settings: Settings) -> None:
    # the composition root imports every feature (seconds): only when the center runs
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

    if args.command == "db":
        if args.db_command == "upgrade":
            await upgrade(settings.database.url)
            print("database is at the newest schema")
            return 0
        current, head = await schema_status(settings.database.url)
        print(f"current: {current or 'empty'}  head: {head}")
        return 0 if current == head else 1

    await prepare_database(settings)
    db = await SqlDatabase.open(settings.database)
    try:
        with_database = getattr(args, "with_database", None)
        if with_database is not None:  # a feature's command on the database (contact inbox)
            return int(await with_database(args, db))
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


async def _operators(args: argparse.Namespace, db: SqlDatabase) -> int:
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
        ui_language=UiLanguage(args.ui_language) if args.ui_language else None,
        gender=Gender(args.gender),
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
