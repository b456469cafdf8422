"""`contact cameras import FILE`, `contact districts import FILE`, `contact units add|import|
list|token`. Wired into contact/cli.py with `add_commands(subparsers)`.

Camera imports (CSV or GeoJSON, hundreds of thousands of rows, with a progress bar):

- A problem with the file itself (not a CSV header with the needed columns, not a GeoJSON
  FeatureCollection, not JSON) imports NOTHING: every row would be wrong the same way.
- Bad rows (bad numbers, out of range, duplicate ids, missing fields) are reported with their
  line numbers and left out; the valid rows are imported in ONE transaction, so the table is
  never left half-written by a crash or Ctrl-C. `--strict` imports nothing when any row is
  bad; `--dry-run` only checks.
- Rows update cameras with the same id; `--replace` also removes cameras not in the file.

Exit codes: 0 everything imported; 1 the file was refused (nothing imported); 2 usage;
3 some rows were refused (the rest imported, or nothing with --strict / --dry-run).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from contact.config import Settings, load_settings
from contact.dispatch.camera_import import ImportReport, import_cameras
from contact.dispatch.districts import DistrictDataError
from contact.dispatch.ports import DispatchRepository
from contact.dispatch.registry import (
    NewUnit,
    add_unit,
    import_cameras_into,
    import_districts_into,
    read_units_csv,
    rotate_token,
    unit_lines,
)
from contact.dispatch.sql import SqlDispatchRepository
from contact.dispatch.units import UnitKind
from contact.errors import ContactError
from contact.persistence.database import SqlDatabase
from contact.persistence.migrate import prepare_database

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_ROWS_REFUSED = 0, 1, 2, 3
SHOWN_ERRORS = 20


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cameras = subparsers.add_parser(
        "cameras",
        help="city cameras",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cam = cameras.add_subparsers(dest="cameras_command", required=True)
    imp = cam.add_parser("import", help="import cameras from CSV or GeoJSON")
    imp.add_argument("file", type=Path)
    imp.add_argument("--replace", action="store_true", help="remove cameras not in the file")
    imp.add_argument("--strict", action="store_true", help="import nothing if any row is bad")
    imp.add_argument("--dry-run", action="store_true", help="check only; import nothing")
    imp.add_argument("--errors", type=Path, help="write every refused row to this CSV file")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.set_defaults(func=_cameras_import)

    districts = subparsers.add_parser("districts", help="district polygons")
    dis = districts.add_subparsers(dest="districts_command", required=True)
    dimp = dis.add_parser(
        "import",
        help="replace the districts with a GeoJSON FeatureCollection (all or nothing)",
    )
    dimp.add_argument("file", type=Path)
    dimp.set_defaults(func=_districts_import)

    units = subparsers.add_parser("units", help="patrol units")
    uni = units.add_subparsers(dest="units_command", required=True)
    add = uni.add_parser("add", help="register a unit; prints its token once")
    add.add_argument("callsign")
    add.add_argument("--kind", choices=[k.value for k in UnitKind], default=UnitKind.CAR.value)
    add.add_argument("--district", help="district id")
    add.add_argument("--department", help="police department")
    add.add_argument("--crew", default="", help="names separated by ';'")
    add.set_defaults(func=_units_add)
    uimp = uni.add_parser(
        "import",
        help="register units from CSV (callsign,kind[,district,department,crew]); "
        "prints callsign,unit_id,token",
    )
    uimp.add_argument("file", type=Path)
    uimp.set_defaults(func=_units_import)
    ulist = uni.add_parser("list", help="list units")
    ulist.set_defaults(func=_units_list)
    token = uni.add_parser("token", help="issue a new token for a unit (the old one stops)")
    token.add_argument("callsign")
    token.set_defaults(func=_units_token)


def _run(work: Callable[[SqlDatabase, DispatchRepository, Console], Awaitable[int]]) -> int:

    settings: Settings = load_settings()
    console = Console()

    async def main() -> int:
        await prepare_database(settings)
        db = await SqlDatabase.open(settings.database)
        try:
            return await work(db, SqlDispatchRepository(db.store), console)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except ContactError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        return EXIT_REFUSED
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: nothing was imported[/yellow]")
        return 130


# --- cameras ----------------------------------------------------------------------------------


def _cameras_import(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    console = Console()
    started = time.perf_counter()
    with _progress(console, args.no_progress) as progress:
        total = path.stat().st_size
        reading = progress.add_task("checking", total=total)
        allow_loopback = load_settings().dispatch.camera_allow_loopback
        report = import_cameras(
            path, lambda done, _: progress.update(reading, completed=done), allow_loopback
        )
        progress.update(reading, completed=total)
    parsed_s = time.perf_counter() - started
    _print_report(console, path, report)
    if args.errors is not None and report.errors:
        _write_errors(args.errors, report)
        console.print(f"all refused rows: {args.errors}")
    if report.aborted:
        console.print("[red]the file was refused: nothing imported[/red]")
        return EXIT_REFUSED
    if args.dry_run or (args.strict and not report.ok):
        why = "dry run" if args.dry_run else "--strict and some rows were refused"
        console.print(f"[yellow]{why}: nothing imported[/yellow]")
        return EXIT_OK if report.ok else EXIT_ROWS_REFUSED

    async def store(db: SqlDatabase, repo: DispatchRepository, console: Console) -> int:
        with _progress(console, args.no_progress) as progress:
            task = progress.add_task("storing", total=len(report.cameras))
            count = await import_cameras_into(
                repo,
                report.cameras,
                replace_all=args.replace,
                progress=lambda done: progress.update(task, completed=done),
                allow_loopback=allow_loopback,
            )
        elapsed = time.perf_counter() - started
        console.print(
            f"[green]imported {count} cameras[/green] in one transaction "
            f"({parsed_s:.1f} s checking, {elapsed:.1f} s in all)"
            + (" — cameras not in the file were removed" if args.replace else "")
        )
        await db.audit.append(
            "cli",
            "cameras.import",
            None,
            {"file": path.name, "imported": count, "refused": report.error_count},
        )
        return EXIT_OK if report.ok else EXIT_ROWS_REFUSED

    return _run(store)


def _progress(console: Console, disabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disabled,
        transient=False,
    )


def _print_report(console: Console, path: Path, report: ImportReport) -> None:
    good = len(report.cameras)
    console.print(f"{path.name}: {report.rows} rows, {good} valid, {report.error_count} refused")
    if report.ignored_columns:
        console.print(f"ignored columns: {', '.join(report.ignored_columns)}")
    for error in report.errors[:SHOWN_ERRORS]:
        who = f" (camera {error.camera_id})" if error.camera_id else ""
        console.print(f"  line {error.line}{who}: {error.message}", markup=False)
    if report.error_count > SHOWN_ERRORS:
        console.print(f"  … and {report.error_count - SHOWN_ERRORS} more (--errors FILE)")


def _write_errors(target: Path, report: ImportReport) -> None:
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("line", "camera_id", "problem"))
        for error in report.errors:
            writer.writerow((error.line, error.camera_id or "", error.message))


# --- districts --------------------------------------------------------------------------------


def _districts_import(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return EXIT_USAGE
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        print(f"error: {path.name} is not valid JSON: {exc}", file=sys.stderr)
        return EXIT_REFUSED

    async def work(db: SqlDatabase, repo: DispatchRepository, console: Console) -> int:
        try:
            records = await import_districts_into(repo, data)
        except DistrictDataError as exc:
            console.print(f"[red]refused, nothing imported:[/red] {exc.message}", markup=True)
            return EXIT_REFUSED
        await db.audit.append(
            "cli", "districts.import", None, {"file": path.name, "districts": len(records)}
        )
        for r in records:
            console.print(f"  {r.id:16} {r.name_ru} — {r.department}", markup=False)
        console.print(f"[green]{len(records)} districts imported[/green] (they replace the old)")
        return EXIT_OK

    return _run(work)


# --- units ------------------------------------------------------------------------------------


def _units_add(args: argparse.Namespace) -> int:
    unit = NewUnit(
        callsign=args.callsign,
        kind=UnitKind(args.kind),
        district_id=args.district,
        department=args.department,
        crew=tuple(n.strip() for n in args.crew.split(";") if n.strip()),
    )

    async def work(db: SqlDatabase, repo: DispatchRepository, console: Console) -> int:
        record, token = await add_unit(repo, unit)
        await db.audit.append("cli", "unit.add", record.id, {"callsign": record.callsign})
        print("\n".join(unit_lines([(record, token)])))
        return EXIT_OK

    return _run(work)


def _units_import(args: argparse.Namespace) -> int:
    found = read_units_csv(args.file)
    for line, problem in found.errors:
        print(f"line {line}: {problem}", file=sys.stderr)
    if found.errors:
        print("refused: nothing imported", file=sys.stderr)
        return EXIT_REFUSED

    async def work(db: SqlDatabase, repo: DispatchRepository, console: Console) -> int:
        added = []
        for unit in found.units:  # a taken call sign stops the import at that unit
            added.append(await add_unit(repo, unit))
        await db.audit.append("cli", "units.import", None, {"units": len(added)})
        print("\n".join(unit_lines(added)))
        return EXIT_OK

    return _run(work)


def _units_list(args: argparse.Namespace) -> int:
    async def work(db: SqlDatabase, repo: DispatchRepository, console: Console) -> int:
        for u in await repo.units():
            where = f"{u.position.lat:.5f},{u.position.lon:.5f}" if u.position else "—"
            print(f"{u.callsign:14} {u.kind.value:5} {u.status.value:15} {where:22} {u.id}")
        return EXIT_OK

    return _run(work)


def _units_token(args: argparse.Namespace) -> int:
    async def work(db: SqlDatabase, repo: DispatchRepository, console: Console) -> int:
        unit = await repo.unit_by_callsign(args.callsign)
        if unit is None:
            print(f"error: no unit {args.callsign}", file=sys.stderr)
            return EXIT_REFUSED
        token = await rotate_token(repo, unit.id)
        await db.audit.append("cli", "unit.token", unit.id)
        print("\n".join(unit_lines([(unit, token)])))
        return EXIT_OK

    return _run(work)


__all__ = ["add_commands"]
