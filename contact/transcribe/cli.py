"""`contact models install|add|list|remove`: the speech models live transcription loads.

  contact models install ru kk [--from URL] [--sha256 HEX] [--force] [--no-progress]
  contact models add LANG PATH|ZIP [--sha256 HEX]
  contact models list [--json]
  contact models remove LANG

Models live in CONTACT_MODELS_DIR, one Vosk model directory per language (`<dir>/ru/`).
`install` downloads `<base>/<name>.zip` (base: --from, else CONTACT_MODELS_BASE_URL, the Vosk
project's site by default), verifies its SHA-256 and unpacks it safely; an interrupted
download is resumed by running the same command again. `add` takes a model directory (copied)
or a zip you already have.

Exit codes: 0 done; 1 a model the settings need is missing (list) or not installed (remove);
2 usage or unknown language; 3 network or interrupted download; 4 archive refused (checksum,
corrupt, unsafe, too large, no model inside); 5 local disk (full, not writable); 6 busy.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from contact.config import Settings, load_settings
from contact.transcribe.catalogue import CATALOGUE
from contact.transcribe.install import (
    Installed,
    Limits,
    ModelError,
    add_archive,
    add_directory,
    disk_error,
    install_catalogued,
    locked,
    remove,
)
from contact.transcribe.models import LANGUAGES, find_model, read_manifest

EXIT_OK, EXIT_MISSING, EXIT_USAGE, EXIT_NETWORK, EXIT_ARCHIVE, EXIT_DISK, EXIT_BUSY = range(7)
EXIT_CODES = {
    "not_installed": EXIT_MISSING,
    "unknown_language": EXIT_USAGE,
    "network": EXIT_NETWORK,
    "download_incomplete": EXIT_NETWORK,
    "checksum_mismatch": EXIT_ARCHIVE,
    "corrupt_zip": EXIT_ARCHIVE,
    "unsafe_zip": EXIT_ARCHIVE,
    "too_large": EXIT_ARCHIVE,
    "no_model": EXIT_ARCHIVE,
    "disk_full": EXIT_DISK,
    "io_error": EXIT_DISK,
    "busy": EXIT_BUSY,
}


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = subparsers.add_parser(
        "models",
        help="speech models for live transcription (install, add, list, remove)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = models.add_subparsers(dest="models_command", required=True)
    install = sub.add_parser("install", help="download the official Vosk models of languages")
    install.add_argument("languages", nargs="+", metavar="LANG", help="kk, ru")
    install.add_argument(
        "--from",
        dest="base_url",
        metavar="URL",
        help="a mirror holding <name>.zip (default: CONTACT_MODELS_BASE_URL)",
    )
    install.add_argument("--sha256", metavar="HEX", help="the archive's expected SHA-256")
    install.add_argument("--force", action="store_true", help="reinstall an installed model")
    install.add_argument("--no-progress", action="store_true", help="no progress bar")
    install.set_defaults(func=_install)
    add = sub.add_parser("add", help="install a model directory or zip you already have")
    add.add_argument("language", metavar="LANG")
    add.add_argument("source", type=Path, metavar="PATH|ZIP")
    add.add_argument("--sha256", metavar="HEX", help="the zip's expected SHA-256")
    add.set_defaults(func=_add)
    listing = sub.add_parser("list", help="installed models; exit 1 if a needed one is missing")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=_list)
    rm = sub.add_parser("remove", help="remove the model of a language")
    rm.add_argument("language", metavar="LANG")
    rm.set_defaults(func=_remove)


def _fail(command: str, message: str, code: int) -> int:
    print(f"contact models {command}: {message}", file=sys.stderr)
    return code


def _limits(settings: Settings) -> Limits:
    return Limits(settings.models.max_unpacked_bytes, settings.models.max_entries)


def _unknown(languages: list[str]) -> str | None:
    bad = [lang for lang in languages if lang not in LANGUAGES]
    if not bad:
        return None
    return f"unknown language {bad[0]!r}: contact has models for {', '.join(LANGUAGES)}"


def _bad_sha256(value: str | None) -> str | None:
    if value is None or re.fullmatch(r"[0-9a-fA-F]{64}", value):
        return None
    return f"--sha256 needs 64 hexadecimal digits, not {value!r}"


def _run(command: str, work: Any) -> int:
    """Run one change under the directory's lock, translating failures to one line + code."""
    try:
        return int(work())
    except ModelError as exc:
        return _fail(command, exc.message, EXIT_CODES.get(exc.error_id, EXIT_MISSING))
    except OSError as exc:
        error = disk_error(exc, "writing the models directory")
        return _fail(command, error.message, EXIT_CODES[error.error_id])
    except KeyboardInterrupt:
        return _fail(command, "interrupted; run the same command again to resume", 130)


def _install(args: argparse.Namespace) -> int:
    settings = load_settings()
    problem = _unknown(args.languages)
    if problem:
        return _fail("install", problem, EXIT_USAGE)
    base_url = (args.base_url or settings.models.base_url).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        return _fail("install", f"--from must be an http:// or https:// URL: {base_url}", 2)
    problem = _bad_sha256(args.sha256)
    if problem:
        return _fail("install", problem, EXIT_USAGE)
    if args.sha256 and len(args.languages) > 1:
        return _fail("install", "--sha256 names one archive: give one language with it", 2)
    models_dir = settings.models.dir.expanduser()
    code = EXIT_OK

    def one(language: str) -> int:
        model = CATALOGUE[language]
        with locked(models_dir):
            current = find_model(models_dir, language)
            manifest = read_manifest(current) if current else None
            if manifest and manifest.get("name") == model.name and not args.force:
                print(
                    f"{language}: {model.name} is already installed in {current} "
                    "(--force reinstalls it)"
                )
                return EXIT_OK
            with _ProgressBar(model.name, args.no_progress) as progress:
                done = install_catalogued(
                    models_dir,
                    model,
                    base_url,
                    _limits(settings),
                    progress,
                    sha256=args.sha256,
                )
        _report(done, models_dir)
        return EXIT_OK

    for language in dict.fromkeys(args.languages):
        result = _run("install", lambda language=language: one(language))
        code = code or result
    return code


def _add(args: argparse.Namespace) -> int:
    settings = load_settings()
    problem = _unknown([args.language])
    if problem:
        return _fail("add", problem, EXIT_USAGE)
    source: Path = args.source.expanduser()
    models_dir = settings.models.dir.expanduser()
    if not source.exists():
        return _fail("add", f"{source} does not exist", EXIT_USAGE)
    problem = _bad_sha256(args.sha256)
    if problem:
        return _fail("add", problem, EXIT_USAGE)
    if source.is_dir() and args.sha256:
        return _fail("add", "--sha256 checks a zip, not a directory", EXIT_USAGE)

    def work() -> int:
        with locked(models_dir):
            if source.is_dir():
                done = add_directory(models_dir, args.language, source)
            else:
                done = add_archive(
                    models_dir, args.language, source, _limits(settings), sha256=args.sha256
                )
        _report(done, models_dir)
        return EXIT_OK

    return _run("add", work)


def _report(done: Installed, models_dir: Path) -> None:
    was = f", replacing {done.replaced}" if done.replaced else ""
    digest = f", sha256 {done.sha256}" if done.sha256 else ""
    print(
        f"{done.language}: {done.name} installed in {done.path} ({_size(done.size)}{digest}{was})"
    )
    if done.pinned_now:
        print(
            f"{done.language}: the catalogue pins no checksum for {done.name}.zip yet; its sha256 "
            f"{done.sha256} is now recorded in {models_dir / 'checksums.json'} and every later "
            "install of it must match (compare it with a copy fetched elsewhere)"
        )


def _remove(args: argparse.Namespace) -> int:
    settings = load_settings()
    problem = _unknown([args.language])
    if problem:
        return _fail("remove", problem, EXIT_USAGE)
    models_dir = settings.models.dir.expanduser()

    def work() -> int:
        with locked(models_dir):
            name = remove(models_dir, args.language)
        print(f"{args.language}: {name} removed from {models_dir}")
        return EXIT_OK

    return _run("remove", work)


def _list(args: argparse.Namespace) -> int:
    settings = load_settings()
    models_dir = settings.models.dir.expanduser()
    rows = [_row(models_dir, language) for language in LANGUAGES]
    needed = LANGUAGES if settings.transcribe.enabled else ()
    missing = [
        row["language"] for row in rows if not row["installed"] and row["language"] in needed
    ]
    if args.json:
        print(json.dumps({"dir": str(models_dir), "models": rows, "missing": missing}, indent=2))
    else:
        for row in rows:
            print(
                f"{row['language']:3} {'installed' if row['installed'] else 'missing':9} "
                f"{row['name'] or '-':28} {_size(row['size']) if row['size'] else '-':>9} "
                f"{row['sha256'] or '-':64} {row['path'] or '-'}"
            )
    if not settings.transcribe.enabled:
        print("transcription is off (CONTACT_TRANSCRIBE_ENABLED=false)", file=sys.stderr)
    if missing:
        print(
            f"missing model(s) for {', '.join(missing)}: install with "
            f"`contact models install {' '.join(missing)}`",
            file=sys.stderr,
        )
        return EXIT_MISSING
    return EXIT_OK


def _row(models_dir: Path, language: str) -> dict[str, Any]:
    path = find_model(models_dir, language)
    if path is None:
        return {
            "language": language,
            "installed": False,
            "name": None,
            "size": None,
            "sha256": None,
            "path": None,
            "source": None,
            "installed_at": None,
        }
    manifest = read_manifest(path) or {}
    size = manifest.get("size")
    if not isinstance(size, int):
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {
        "language": language,
        "installed": True,
        "name": manifest.get("name") or path.name,
        "size": size,
        "sha256": manifest.get("sha256"),
        "path": str(path),
        "source": manifest.get("source"),
        "installed_at": manifest.get("installed_at"),
    }


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


class _ProgressBar:
    """A rich download bar on stderr, shown once the server answers (none with --no-progress)."""

    def __init__(self, name: str, off: bool) -> None:
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._name, self._off = name, off

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def start(self, total: int | None, done: int) -> None:
        if self._off:
            return
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._bar.add_task(self._name, total=total, completed=done)
        self._bar.start()

    def advance(self, n: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, n)
