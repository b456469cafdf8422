"""`contact triage lexicon list|add|remove|import`: the admin's lexicon editor on the command
line. Edits go to the database through the LexiconEditor (validated, audited as actor "cli");
running servers pick them up at their next version check (30 s), no restart."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from contact.config import Settings, load_settings
from contact.domain.triage import CATEGORY_INTENT, WEIGHT_MAX, WEIGHT_MIN
from contact.errors import ContactError
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import prepare_database
from contact.triage import Triage
from contact.triage.editor import LexiconEditor
from contact.triage.lexicon import LANGUAGES, entry, from_toml, normalise_term, to_toml

ACTOR = "cli"


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    triage = subparsers.add_parser("triage", help="triage of citizens' words")
    t = triage.add_subparsers(dest="triage_command", required=True)
    lexicon = t.add_parser("lexicon", help="the bilingual triage lexicon")
    lx = lexicon.add_subparsers(dest="lexicon_command", required=True)
    categories = [c.value for c in CATEGORY_INTENT]

    listing = lx.add_parser("list", help="print the lexicon in use (a table, or --toml)")
    listing.add_argument("--category", choices=categories)
    listing.add_argument("--lang", choices=LANGUAGES)
    listing.add_argument("--toml", action="store_true", help="in the format import reads")
    listing.set_defaults(func=lambda a: _run(_list, a))

    add = lx.add_parser("add", help="add a term, or change its weight")
    add.add_argument("term", help="ru: any form (lemmatised); kk: a stem (мылтық, ұрла)")
    add.add_argument("--lang", choices=LANGUAGES, required=True)
    add.add_argument("--category", choices=categories, required=True)
    add.add_argument(
        "--weight", type=float, default=1.0, help=f"{WEIGHT_MIN}…{WEIGHT_MAX}; 1.0 is alone enough"
    )
    add.set_defaults(func=lambda a: _run(_add, a))

    remove = lx.add_parser("remove", help="remove a term")
    remove.add_argument("term")
    remove.add_argument("--lang", choices=LANGUAGES, required=True)
    remove.add_argument("--category", choices=categories, required=True)
    remove.set_defaults(func=lambda a: _run(_remove, a))

    imp = lx.add_parser("import", help="replace the lexicon with a TOML file (or --merge)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--merge", action="store_true", help="add and update, remove nothing")
    imp.set_defaults(func=lambda a: _run(_import, a))


def _run(command: object, args: argparse.Namespace) -> int:
    assert callable(command)
    try:
        return int(asyncio.run(command(args, load_settings())))
    except ContactError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1


async def _editor(settings: Settings) -> tuple[LexiconEditor, object]:
    await prepare_database(settings)
    db = await SqlDatabase.open(settings.database)
    editor = LexiconEditor(triage=Triage(), store=db.triage_lexicon, audit=db.audit)
    return editor, db


async def _with_editor(settings: Settings, work: object) -> int:
    editor, db = await _editor(settings)
    try:
        assert callable(work)
        return int(await work(editor))
    finally:
        await db.close()  # type: ignore[attr-defined]


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(editor: LexiconEditor) -> int:
        version, entries = await editor.current()
        shown = [
            e
            for e in entries
            if (args.category is None or e.category.value == args.category)
            and (args.lang is None or e.lang == args.lang)
        ]
        if args.toml:
            print(to_toml(shown), end="")
            return 0
        print(f"# version {version} ({'packaged' if version == 0 else 'edited'}), {len(shown)}")
        for e in shown:
            print(f"{e.category.value:15} {e.lang:3} {e.weight:4.1f}  {e.term}")
        return 0

    return await _with_editor(settings, work)


async def _add(args: argparse.Namespace, settings: Settings) -> int:
    new = entry(args.term, args.lang, args.category, args.weight)

    async def work(editor: LexiconEditor) -> int:
        version = await editor.add([new], ACTOR)
        print(f"added {new.category.value}/{new.lang} {new.term!r} = {new.weight} (v{version})")
        return 0

    return await _with_editor(settings, work)


async def _remove(args: argparse.Namespace, settings: Settings) -> int:
    key = (args.lang, args.category, normalise_term(args.term))

    async def work(editor: LexiconEditor) -> int:
        version = await editor.remove([key], ACTOR)
        print(f"removed {args.category}/{args.lang} {key[2]!r} (v{version})")
        return 0

    return await _with_editor(settings, work)


async def _import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        text = args.file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        print(f"error: {args.file}: {error}", file=sys.stderr)
        return 2
    entries = from_toml(text)  # all or nothing: an invalid entry stops the import here

    async def work(editor: LexiconEditor) -> int:
        if args.merge:
            version = await editor.add(entries, ACTOR)
        else:
            version = await editor.replace(entries, ACTOR)
        how = "merged" if args.merge else "replaced the lexicon with"
        print(f"{how} {len(entries)} entries (v{version})")
        return 0

    return await _with_editor(settings, work)
