"""`contact kiosks import|list|key`: the SOS kiosk registry, on the registries' shared import
(contact.channels.registry_cli)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from contact.channels import registry_cli as rc
from contact.channels.kiosk import parse
from contact.config import Settings
from contact.errors import ContactError


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kiosks = subparsers.add_parser("kiosks", help="the SOS kiosk registry")
    k = kiosks.add_subparsers(dest="kiosks_command", required=True)
    imp = k.add_parser("import", help="add or update kiosks from CSV or GeoJSON (all or nothing)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--keys-out", type=Path, help="write generated keys here (mode 0600)")
    imp.set_defaults(func=lambda a: rc.run(_import_kiosks, a))
    k.add_parser("list", help="list kiosks and their state").set_defaults(
        func=lambda a: rc.run(_list_kiosks, a)
    )
    key = k.add_parser("key", help="print a kiosk's HMAC key (for provisioning it)")
    key.add_argument("kiosk_id")
    key.add_argument("--rotate", action="store_true", help="generate a new key first")
    key.set_defaults(func=lambda a: rc.run(_kiosk_key, a))


async def _import_kiosks(args: argparse.Namespace, settings: Settings) -> int:
    data = rc.read_file(args.file)
    if data is None:
        return rc.EXIT_USAGE
    checked = rc.check_file(
        data,
        args.file.name,
        parse.COLUMN_ALIASES,
        parse.REQUIRED_COLUMNS,
        parse.kiosk_row,
        lambda k: k.id,
    )
    if checked.problems:
        return rc.report_problems(args.file, checked.problems)
    db = await rc.open_database(settings)
    try:
        known = {k.id for k in await db.registries.kiosks.all()}
        generated = {
            k.id: rc.new_key()
            for k in checked.items
            if k.id not in known and k.id not in checked.keys
        }
        if generated and args.keys_out is not None:
            rc.write_keys(args.keys_out, generated)
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
    db = await rc.open_database(settings)
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
    db = await rc.open_database(settings)
    try:
        if args.rotate:
            key = rc.new_key()
            await db.registries.kiosks.set_key(args.kiosk_id, key, at=datetime.now(UTC))
            await db.audit.append("cli", "kiosk.key_rotated", args.kiosk_id)
        else:
            found = await db.registries.kiosks.key(args.kiosk_id)
            if found is None:
                print(f"error: no kiosk {args.kiosk_id}", file=sys.stderr)
                return rc.EXIT_INVALID
            key = found
            await db.audit.append("cli", "kiosk.key_shown", args.kiosk_id)
    except ContactError as exc:  # no such kiosk
        print(f"error: {exc.message}", file=sys.stderr)
        return rc.EXIT_INVALID
    finally:
        await db.close()
    print(key)
    return 0


# --- alarm sites --------------------------------------------------------------------------
