"""`contact kiosks import|list|key` and `contact sites import|list|rotate-key`.

Imports are all or nothing: every row is checked first and every problem is printed with its
line; only a clean file is written, in one transaction. Rows update kiosks or sites with the
same id and add the others.

Keys: a new kiosk or site without a `key` column gets a random one (32 bytes, hex). Kiosk keys
are kept in the database (an HMAC is verified with the key) and `contact kiosks key ID` prints
one again. Site keys are stored only as sha256, so a generated one is shown once: in the file
given with `--keys-out` (created with mode 0600), which is then required.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from contact.channels import registry_import as ri
from contact.config import Settings, load_settings
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import prepare_database

T = TypeVar("T")
EXIT_INVALID = 1
EXIT_USAGE = 2


Command = Callable[[argparse.Namespace, Settings], Any]


def run(command: Command, args: argparse.Namespace) -> int:
    return int(asyncio.run(command(args, load_settings())))


async def open_database(settings: Settings) -> SqlDatabase:
    await prepare_database(settings)
    return await SqlDatabase.open(settings.database)


def new_key() -> str:
    return secrets.token_hex(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Checked(Generic[T]):
    items: list[T] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # id → key given in the file
    problems: list[ri.Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


def check_file(
    data: bytes,
    filename: str,
    aliases: Mapping[str, str],
    required: frozenset[str],
    row: Callable[[Mapping[str, Any]], tuple[T, str | None]],
    ident: Callable[[T], str],
) -> Checked[T]:
    """Every row checked; ids and keys must be unique in the file."""
    outcome = ri.read_rows(data, filename, aliases, required)
    checked: Checked[T] = Checked(
        problems=list(outcome.problems), ignored_columns=outcome.ignored_columns
    )
    first_line: dict[str, int] = {}
    key_line: dict[str, int] = {}
    for r in outcome.rows:
        try:
            item, key = row(r.fields)
        except ri.RowError as exc:
            checked.problems.append(ri.Problem(r.line, str(exc)))
            continue
        item_id = ident(item)
        if item_id in first_line:
            checked.problems.append(
                ri.Problem(r.line, f"id {item_id!r} is already on line {first_line[item_id]}")
            )
            continue
        first_line[item_id] = r.line
        if key is not None:
            if key in key_line:
                checked.problems.append(
                    ri.Problem(r.line, f"the key is the same as on line {key_line[key]}")
                )
                continue
            key_line[key] = r.line
            checked.keys[item_id] = key
        checked.items.append(item)
    if not checked.problems and not checked.items:
        checked.problems.append(ri.Problem(None, "the file has no rows"))
    checked.problems.sort(key=lambda p: p.line or 0)
    return checked


def read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return None


def report_problems(path: Path, problems: list[ri.Problem]) -> int:
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    print(f"{len(problems)} problem(s); nothing was imported", file=sys.stderr)
    return EXIT_INVALID


def write_keys(path: Path, keys: Mapping[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "key"])
        for item_id, key in sorted(keys.items()):
            writer.writerow([item_id, key])


# --- kiosks -------------------------------------------------------------------------------
