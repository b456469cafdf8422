"""`contact inbox failed | retry SEQ`: the chat inbox's items that failed every attempt.

The command runs with the database the CLI opened (`with_database`): the feature brings its
command and its store, the CLI root checks the schema and opens the database."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from contact.channels.chat.ports import ChatStore
from contact.channels.chat.sql import SqlChatStore

if TYPE_CHECKING:
    from contact.persistence.database import SqlDatabase


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inbox = subparsers.add_parser("inbox", help="the chat inbox's items that failed to be handled")
    inbox_sub = inbox.add_subparsers(dest="inbox_command", required=True)
    failed = inbox_sub.add_parser("failed", help="list failed items (exit 1 when there are any)")
    failed.add_argument("--limit", type=int, default=100)
    retry = inbox_sub.add_parser("retry", help="hand a failed item back to the processors")
    retry.add_argument("seq", type=int)
    inbox.set_defaults(with_database=_run)


async def _run(args: argparse.Namespace, db: SqlDatabase) -> int:
    return await inbox_command(args, SqlChatStore(db.store))


async def inbox_command(args: argparse.Namespace, chats: ChatStore) -> int:
    if args.inbox_command == "retry":
        if not await chats.inbox_retry(args.seq):
            print(f"no failed inbox item {args.seq}", file=sys.stderr)
            return 1
        print(f"inbox item {args.seq} is pending again (handled within a minute)")
        return 0
    failures = await chats.inbox_failed(args.limit)
    for f in failures:
        failed_at = f.failed_at.isoformat() if f.failed_at else "-"
        print(
            f"{f.seq}\t{f.channel.value}\tlane {f.lane}\treceived {f.received_at.isoformat()}"
            f"\tfailed {failed_at}\tattempts {f.attempts}"
        )
    print(f"{len(failures)} failed inbox item(s)", file=sys.stderr)
    return 1 if failures else 0
