"""`contact asterisk up|down|status` (the local Asterisk of asterisk-config/) and
`contact retention purge` (call recordings past their retention period).

Wired into contact/cli.py with `add_commands(subparsers)`; every subcommand sets `func`, which
takes the parsed arguments and returns the process exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from contact.config import AsteriskSettings, load_settings
from contact.persistence.calls import SqlCallRepository
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import prepare_database
from contact.persistence.transcripts import SqlTranscriptStore, purge_transcripts
from contact.telephony.recordings import RecordingService
from contact.telephony.runner import DEFAULT_CONFIG_DIR, AsteriskError, AsteriskRunner

EXIT_NOT_RUNNING = 3  # as `systemctl status` and LSB init scripts say "not running"


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "asterisk",
        help="run the local Asterisk (asterisk-config/)",
        description="Start, stop and inspect the local Asterisk built from asterisk-config/. "
        "Settings: CONTACT_ASTERISK_* (ports, cache and run directories, launcher).",
    )
    commands = parser.add_subparsers(dest="asterisk_command", required=True)

    up = commands.add_parser(
        "up", help="provision if needed, start, wait until fully booted (idempotent)"
    )
    _common(up)
    up.add_argument(
        "--no-provision",
        action="store_true",
        help="fail instead of running scripts/asterisk-rootfs.sh when Asterisk is missing",
    )
    up.set_defaults(func=_up)

    down = commands.add_parser("down", help="stop it (SIGTERM, then SIGKILL)")
    _common(down)
    down.add_argument("--timeout", type=float, default=10.0, help="seconds before SIGKILL")
    down.set_defaults(func=_down)

    status = commands.add_parser("status", help=f"print its state; exit {EXIT_NOT_RUNNING} if down")
    _common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=_status)

    retention = subparsers.add_parser(
        "retention",
        help="call recordings past their retention period",
        description="Purge call recordings older than CONTACT_ASTERISK_RETENTION_DAYS (the "
        "files are deleted, each purge is written to the audit log; the rows stay), and the "
        "call transcripts stored before then (deleted, the count audited).",
    )
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    purge = retention_commands.add_parser("purge", help="delete expired recordings (audited)")
    purge.add_argument("--days", type=int, help="override the retention period (days, >= 1)")
    purge.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    purge.set_defaults(func=_purge)


def _purge(args: argparse.Namespace) -> int:

    if args.days is not None and args.days < 1:
        print("retention: --days must be at least 1")
        return 2
    settings = load_settings()

    async def run() -> int:
        await prepare_database(settings)
        db = await SqlDatabase.open(settings.database)
        try:
            service = RecordingService(
                settings=settings.asterisk,
                calls=SqlCallRepository(db.store),
                audit=db.audit,
            )
            done = await service.purge(days=args.days, dry_run=args.dry_run)
            days = args.days or settings.asterisk.retention_days
            segments = await purge_transcripts(
                SqlTranscriptStore(db.store),
                db.audit,
                days=days,
                now=datetime.now(UTC),
                dry_run=args.dry_run,
            )
        finally:
            await db.close()
        verb = "would purge" if args.dry_run else "purged"
        for recording in done:
            print(f"{recording.started_at.isoformat()}  {recording.id}  {recording.path}")
        print(f"retention: {verb} {len(done)} recording(s) older than {days} days")
        print(f"retention: {verb} {segments} transcript segment(s) older than {days} days")
        return 0

    return asyncio.run(run())


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=DEFAULT_CONFIG_DIR,
        help="the Asterisk configuration to run (default: the repository's asterisk-config/)",
    )


def _runner(args: argparse.Namespace) -> AsteriskRunner:
    return AsteriskRunner(AsteriskSettings(), args.config_dir)


def _up(args: argparse.Namespace) -> int:
    runner = _runner(args)

    async def run() -> None:
        if not args.no_provision:
            await runner.provision()
        await runner.up()

    try:
        asyncio.run(run())
    except AsteriskError as exc:
        print(f"asterisk: {exc.message}")
        if exc.details.get("log"):
            print(exc.details["log"])
        return 1
    _print_status(runner)
    return 0


def _down(args: argparse.Namespace) -> int:
    runner = _runner(args)
    try:
        asyncio.run(runner.down(args.timeout))
    except AsteriskError as exc:
        print(f"asterisk: {exc.message}")
        return 1
    print("asterisk: stopped")
    return 0


def _status(args: argparse.Namespace) -> int:
    runner = _runner(args)
    state = runner.status()
    if args.json:
        print(json.dumps({**asdict(state), "run_dir": str(state.run_dir)}))
    else:
        _print_status(runner)
    return 0 if state.running else EXIT_NOT_RUNNING


def _print_status(runner: AsteriskRunner) -> None:
    state = runner.status()
    if not state.running:
        print(f"asterisk: not running (run directory {state.run_dir})")
        return
    print(f"asterisk: running, pid {state.pid} ({state.launcher})")
    print(f"  AMI        {state.ami} as {runner.settings.ami_username}")
    print(f"  SIP        {state.sip}")
    print(f"  WebSocket  {state.websocket}")
    print(f"  run dir    {state.run_dir} (secrets.json: AMI secret, SIP passwords)")
    print(f"  logs       {state.run_dir / 'log'}")
