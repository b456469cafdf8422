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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from contact.channels import registry_import as ri
from contact.config import Settings, load_settings
from contact.errors import ContactError

if TYPE_CHECKING:  # the database layer loads only when a command runs
    from contact.persistence.database import SqlDatabase

T = TypeVar("T")
EXIT_INVALID = 1
EXIT_USAGE = 2


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kiosks = subparsers.add_parser("kiosks", help="the SOS kiosk registry")
    k = kiosks.add_subparsers(dest="kiosks_command", required=True)
    imp = k.add_parser("import", help="add or update kiosks from CSV or GeoJSON (all or nothing)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--keys-out", type=Path, help="write generated keys here (mode 0600)")
    imp.set_defaults(func=lambda a: _run(_import_kiosks, a))
    k.add_parser("list", help="list kiosks and their state").set_defaults(
        func=lambda a: _run(_list_kiosks, a)
    )
    key = k.add_parser("key", help="print a kiosk's HMAC key (for provisioning it)")
    key.add_argument("kiosk_id")
    key.add_argument("--rotate", action="store_true", help="generate a new key first")
    key.set_defaults(func=lambda a: _run(_kiosk_key, a))

    sites = subparsers.add_parser("sites", help="the school alarm site registry")
    s = sites.add_subparsers(dest="sites_command", required=True)
    imp = s.add_parser("import", help="add or update sites from CSV or GeoJSON (all or nothing)")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--keys-out", type=Path, help="write generated keys here (mode 0600); shown only once"
    )
    imp.set_defaults(func=lambda a: _run(_import_sites, a))
    s.add_parser("list", help="list sites").set_defaults(func=lambda a: _run(_list_sites, a))
    rotate = s.add_parser("rotate-key", help="give a site a new key and print it (once)")
    rotate.add_argument("site_id")
    rotate.set_defaults(func=lambda a: _run(_rotate_site_key, a))


Command = Callable[[argparse.Namespace, Settings], Any]


def _run(command: Command, args: argparse.Namespace) -> int:
    return int(asyncio.run(command(args, load_settings())))


async def _open(settings: Settings) -> SqlDatabase:
    from contact.bootstrap import prepare_database
    from contact.persistence.database import SqlDatabase

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


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return None


def _report_problems(path: Path, problems: list[ri.Problem]) -> int:
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    print(f"{len(problems)} problem(s); nothing was imported", file=sys.stderr)
    return EXIT_INVALID


def _write_keys(path: Path, keys: Mapping[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "key"])
        for item_id, key in sorted(keys.items()):
            writer.writerow([item_id, key])


# --- kiosks -------------------------------------------------------------------------------


async def _import_kiosks(args: argparse.Namespace, settings: Settings) -> int:
    from contact.channels.kiosk import parse

    data = _read(args.file)
    if data is None:
        return EXIT_USAGE
    checked = check_file(
        data,
        args.file.name,
        parse.COLUMN_ALIASES,
        parse.REQUIRED_COLUMNS,
        parse.kiosk_row,
        lambda k: k.id,
    )
    if checked.problems:
        return _report_problems(args.file, checked.problems)
    db = await _open(settings)
    try:
        known = {k.id for k in await db.registries.kiosks.all()}
        generated = {
            k.id: new_key() for k in checked.items if k.id not in known and k.id not in checked.keys
        }
        if generated and args.keys_out is not None:
            _write_keys(args.keys_out, generated)
        await db.registries.kiosks.upsert(
            checked.items, {**checked.keys, **generated}, at=datetime.now(UTC)
        )
        added = sum(1 for k in checked.items if k.id not in known)
        await db.audit.append(
            "cli", "kiosks.import", None, {"added": added, "updated": len(checked.items) - added}
        )
    finally:
        await db.close()
    updated = len(checked.items) - added
    print(f"imported {len(checked.items)} kiosk(s): {added} added, {updated} updated")
    if checked.ignored_columns:
        print(f"ignored column(s): {', '.join(checked.ignored_columns)}")
    if generated:
        where = f"written to {args.keys_out}" if args.keys_out else "see `contact kiosks key ID`"
        print(f"generated keys for {len(generated)} kiosk(s): {where}")
    return 0


async def _list_kiosks(args: argparse.Namespace, settings: Settings) -> int:
    db = await _open(settings)
    try:
        kiosks = await db.registries.kiosks.all()
    finally:
        await db.close()
    for k in kiosks:
        seen = k.last_heartbeat_at.isoformat(timespec="seconds") if k.last_heartbeat_at else "-"
        flag = "" if k.enabled else " (disabled)"
        print(f"{k.id:24} {k.state:8} {seen:26} {k.name}{flag}")
    return 0


async def _kiosk_key(args: argparse.Namespace, settings: Settings) -> int:
    db = await _open(settings)
    try:
        if args.rotate:
            key = new_key()
            await db.registries.kiosks.set_key(args.kiosk_id, key, at=datetime.now(UTC))
            await db.audit.append("cli", "kiosk.key_rotated", args.kiosk_id)
        else:
            found = await db.registries.kiosks.key(args.kiosk_id)
            if found is None:
                print(f"error: no kiosk {args.kiosk_id}", file=sys.stderr)
                return EXIT_INVALID
            key = found
            await db.audit.append("cli", "kiosk.key_shown", args.kiosk_id)
    except ContactError as exc:  # no such kiosk
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        await db.close()
    print(key)
    return 0


# --- alarm sites --------------------------------------------------------------------------


async def _import_sites(args: argparse.Namespace, settings: Settings) -> int:
    from contact.channels.alarm import parse

    data = _read(args.file)
    if data is None:
        return EXIT_USAGE
    checked = check_file(
        data,
        args.file.name,
        parse.COLUMN_ALIASES,
        parse.REQUIRED_COLUMNS,
        parse.site_row,
        lambda s: s.id,
    )
    if checked.problems:
        return _report_problems(args.file, checked.problems)
    db = await _open(settings)
    try:
        known = {s.id for s in await db.registries.sites.all()}
        fresh = [s.id for s in checked.items if s.id not in known and s.id not in checked.keys]
        if fresh and args.keys_out is None:
            print(
                f"error: {len(fresh)} new site(s) without a key column (first: {fresh[0]}); "
                "give --keys-out FILE to receive their generated keys (shown only once)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        generated = {site_id: new_key() for site_id in fresh}
        if generated:
            _write_keys(args.keys_out, generated)
        hashes = {i: key_hash(k) for i, k in {**checked.keys, **generated}.items()}
        try:
            await db.registries.sites.upsert(checked.items, hashes, at=datetime.now(UTC))
        except ContactError as exc:  # a key shared with a site not in this file
            print(f"error: {exc.message}; nothing was imported", file=sys.stderr)
            return EXIT_INVALID
        added = sum(1 for s in checked.items if s.id not in known)
        await db.audit.append(
            "cli", "sites.import", None, {"added": added, "updated": len(checked.items) - added}
        )
    finally:
        await db.close()
    updated = len(checked.items) - added
    print(f"imported {len(checked.items)} site(s): {added} added, {updated} updated")
    if checked.ignored_columns:
        print(f"ignored column(s): {', '.join(checked.ignored_columns)}")
    if generated:
        print(f"generated keys for {len(generated)} site(s): written to {args.keys_out}")
    return 0


async def _list_sites(args: argparse.Namespace, settings: Settings) -> int:
    db = await _open(settings)
    try:
        sites = await db.registries.sites.all()
    finally:
        await db.close()
    for s in sites:
        flag = "" if s.enabled else " (disabled)"
        print(f"{s.id:24} {s.kind:12} {len(s.camera_ids):3} camera(s)  {s.name}{flag}")
    return 0


async def _rotate_site_key(args: argparse.Namespace, settings: Settings) -> int:
    db = await _open(settings)
    key = new_key()
    try:
        await db.registries.sites.set_key_hash(args.site_id, key_hash(key), at=datetime.now(UTC))
        await db.audit.append("cli", "site.key_rotated", args.site_id)
    except ContactError as exc:  # no such site
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        await db.close()
    print(key)
    return 0
