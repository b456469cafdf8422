"""`contact sites import|list|rotate-key`: the school alarm site registry, on the registries'
shared import (contact.channels.registry_cli)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from contact.channels import registry_cli as rc
from contact.channels.alarm import parse
from contact.config import Settings
from contact.errors import ContactError


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sites = subparsers.add_parser("sites", help="the school alarm site registry")
    s = sites.add_subparsers(dest="sites_command", required=True)
    imp = s.add_parser("import", help="add or update sites from CSV or GeoJSON (all or nothing)")
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--keys-out", type=Path, help="write generated keys here (mode 0600); shown only once"
    )
    imp.set_defaults(func=lambda a: rc.run(_import_sites, a))
    s.add_parser("list", help="list sites").set_defaults(func=lambda a: rc.run(_list_sites, a))
    rotate = s.add_parser("rotate-key", help="give a site a new key and print it (once)")
    rotate.add_argument("site_id")
    rotate.set_defaults(func=lambda a: rc.run(_rotate_site_key, a))


async def _import_sites(args: argparse.Namespace, settings: Settings) -> int:
    data = rc.read_file(args.file)
    if data is None:
        return rc.EXIT_USAGE
    checked = rc.check_file(
        data,
        args.file.name,
        parse.COLUMN_ALIASES,
        parse.REQUIRED_COLUMNS,
        parse.site_row,
        lambda s: s.id,
    )
    if checked.problems:
        return rc.report_problems(args.file, checked.problems)
    db = await rc.open_database(settings)
    try:
        known = {s.id for s in await db.registries.sites.all()}
        fresh = [s.id for s in checked.items if s.id not in known and s.id not in checked.keys]
        if fresh and args.keys_out is None:
            print(
                f"error: {len(fresh)} new site(s) without a key column (first: {fresh[0]}); "
                "give --keys-out FILE to receive their generated keys (shown only once)",
                file=sys.stderr,
            )
            return rc.EXIT_USAGE
        generated = {site_id: rc.new_key() for site_id in fresh}
        if generated:
            rc.write_keys(args.keys_out, generated)
        hashes = {i: rc.key_hash(k) for i, k in {**checked.keys, **generated}.items()}
        try:
            await db.registries.sites.upsert(checked.items, hashes, at=datetime.now(UTC))
        except ContactError as exc:  # a key shared with a site not in this file
            print(f"error: {exc.message}; nothing was imported", file=sys.stderr)
            return rc.EXIT_INVALID
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
    db = await rc.open_database(settings)
    try:
        sites = await db.registries.sites.all()
    finally:
        await db.close()
    for s in sites:
        flag = "" if s.enabled else " (disabled)"
        print(f"{s.id:24} {s.kind:12} {len(s.camera_ids):3} camera(s)  {s.name}{flag}")
    return 0


async def _rotate_site_key(args: argparse.Namespace, settings: Settings) -> int:
    db = await rc.open_database(settings)
    key = rc.new_key()
    try:
        await db.registries.sites.set_key_hash(args.site_id, rc.key_hash(key), at=datetime.now(UTC))
        await db.audit.append("cli", "site.key_rotated", args.site_id)
    except ContactError as exc:  # no such site
        print(f"error: {exc.message}", file=sys.stderr)
        return rc.EXIT_INVALID
    finally:
        await db.close()
    print(key)
    return 0
