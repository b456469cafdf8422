"""Putting speech models into the models directory: download, verify, unpack safely, place.

Layout of `CONTACT_MODELS_DIR` (what `find_model` reads is only `<dir>/<language>/`):

    <dir>/ru/                       a Vosk model directory, with contact-model.json (manifest)
    <dir>/checksums.json            SHA-256 of each archive installed (trust on first use)
    <dir>/.downloads/<name>.zip.part  an interrupted download, resumed by the next install
    <dir>/.staging-*, .previous-*   transient: an install in progress (cleaned up next time)

An install never touches `<dir>/<language>/` until the new model is downloaded, verified,
unpacked and recognised; then the old directory is renamed aside and the new one renamed in
(two renames on one file system; rolled back if the second fails), so a failed install leaves
the previous model as it was. One install at a time per models directory (a lock file).

Every failure is a `ModelError` with a stable `error_id` (see ERROR_IDS) and a one-line message.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path, PurePosixPath
from typing import IO, Any, Protocol
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from contact.errors import ContactError
from contact.transcribe.catalogue import CATALOGUE, CatalogueModel
from contact.transcribe.models import MANIFEST, is_model_dir, read_manifest

CHUNK = 1024 * 1024
PINS = "checksums.json"
DOWNLOADS = ".downloads"
TIMEOUT_S = 30.0

ERROR_IDS = (
    "unknown_language",  # not in the catalogue
    "network",  # the site or mirror cannot be reached, or answers an HTTP error
    "download_incomplete",  # the connection ended early: run again to resume
    "checksum_mismatch",  # the archive is not the pinned (or first recorded) one
    "corrupt_zip",  # not a zip, truncated, bad CRC, conflicting entries
    "unsafe_zip",  # an entry escapes the directory, a symlink or device, encrypted
    "too_large",  # the download or the unpacked archive exceeds its bound (zip bomb)
    "no_model",  # no Vosk model directory (am/final.mdl, conf/, graph/) inside
    "disk_full",  # no space left on the models directory's file system
    "io_error",  # another local file system problem (permissions …)
    "busy",  # another `contact models` command works on this directory
    "not_installed",  # remove: no model for that language
)


class ModelError(ContactError):
    error_id = "model_error"
    status = 422


@dataclass(frozen=True, slots=True)
class Limits:
    max_unpacked_bytes: int
    max_entries: int


@dataclass(frozen=True, slots=True)
class Installed:
    language: str
    name: str
    path: Path
    sha256: str | None  # None for a directory added as it is
    size: int  # bytes of the archive (or of the directory's files)
    pinned_now: bool = False  # the checksum was recorded now (not pinned before)
    replaced: str | None = None  # the name of the model it replaced


class Progress(Protocol):
    def start(self, total: int | None, done: int) -> None: ...

    def advance(self, n: int) -> None: ...


class NoProgress:
    def start(self, total: int | None, done: int) -> None:
        pass

    def advance(self, n: int) -> None:
        pass


def disk_error(exc: OSError, what: str) -> ModelError:
    """A local file system error as a ModelError (disk full is its own case)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ModelError(f"no space left on the device while {what}", error_id="disk_full")
    return ModelError(f"{what}: {exc.strerror or exc}", error_id="io_error")


@contextlib.contextmanager
def locked(models_dir: Path) -> Iterator[None]:
    """One `contact models` change at a time on a models directory; stale leftovers of an
    interrupted run are cleaned up (and a model moved aside is put back) under the lock."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ModelError(
                f"another `contact models` command is working on {models_dir}; try again "
                "when it has finished",
                error_id="busy",
            ) from None
        try:
            _recover(models_dir)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recover(models_dir: Path) -> None:
    for leftover in models_dir.glob(".previous-*"):
        # `.previous-<language>-<token>`: the old model of a run killed between its renames
        language = leftover.name.split("-")[1]
        target = models_dir / language
        if not target.exists() and not target.is_symlink():
            os.rename(leftover, target)
        else:
            _discard(leftover)
    for leftover in models_dir.glob(".staging-*"):
        _discard(leftover)


def _discard(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


# --- download -------------------------------------------------------------------------------


def download(url: str, part: Path, *, max_bytes: int, progress: Progress) -> str:
    """Stream `url` into `part` (resuming what an earlier run left there when the server
    honours Range) and return the SHA-256 of the whole file."""
    part.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    have = part.stat().st_size if part.exists() else 0
    if have > max_bytes:
        part.unlink()
        have = 0
    headers = {"User-Agent": "contact-models/1", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    host = urlsplit(url).netloc or url
    try:
        response = urlopen(Request(url, headers=headers), timeout=TIMEOUT_S)
    except HTTPError as exc:
        if exc.code == 416 and have:  # the earlier run had it all: check what is there
            total = _range_total(exc.headers.get("Content-Range"))
            if total == have:
                progress.start(have, have)
                return _hash_file(part, digest)
            part.unlink()
            return download(url, part, max_bytes=max_bytes, progress=progress)
        raise ModelError(
            f"{url}: the server answered HTTP {exc.code}", error_id="network"
        ) from None
    except (URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(f"cannot reach {host}: {reason}", error_id="network") from None
    with response:
        length = response.headers.get("Content-Length")
        remaining = int(length) if length and length.isdigit() else None
        if response.status == 206:
            if _range_start(response.headers.get("Content-Range")) != have:
                part.unlink()  # not the part asked for: start again from nothing
                return download(url, part, max_bytes=max_bytes, progress=progress)
            _hash_file(part, digest)
            mode = "ab"
        else:  # a fresh start: no partial file, or a server that ignores Range
            have, mode = 0, "wb"
        total = have + remaining if remaining is not None else None
        if total is not None and total > max_bytes:
            raise ModelError(
                f"{url} is {total} bytes, more than the {max_bytes} bytes allowed for it",
                error_id="too_large",
            )
        if remaining is not None and shutil.disk_usage(part.parent).free < remaining:
            raise ModelError(
                f"no space left for {remaining} bytes in {part.parent}", error_id="disk_full"
            )
        progress.start(total, have)
        got = have
        try:
            with open(part, mode) as out:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    got += len(chunk)
                    if got > max_bytes:
                        out.close()
                        part.unlink()
                        raise ModelError(
                            f"{url} grew past the {max_bytes} bytes allowed for it",
                            error_id="too_large",
                        )
                    out.write(chunk)
                    digest.update(chunk)
                    progress.advance(len(chunk))
        except (OSError, ValueError, HTTPException) as exc:  # the connection dropped
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise disk_error(exc, f"writing {part}") from None
            raise _incomplete(url, got, total) from None
        if total is not None and got < total:
            raise _incomplete(url, got, total)
    return digest.hexdigest()


def _incomplete(url: str, got: int, total: int | None) -> ModelError:
    of = f" of {total}" if total is not None else ""
    return ModelError(
        f"the download of {url} stopped at {got}{of} bytes; run the same command again to "
        "resume it",
        error_id="download_incomplete",
    )


_CONTENT_RANGE = re.compile(r"^bytes (?:(\d+)-\d+|\*)/(\d+|\*)$")


def _range_start(value: str | None) -> int | None:
    found = _CONTENT_RANGE.match(value or "")
    return int(found[1]) if found and found[1] else None


def _range_total(value: str | None) -> int | None:
    found = _CONTENT_RANGE.match(value or "")
    return int(found[2]) if found and found[2].isdigit() else None


def _hash_file(path: Path, digest: Any) -> str:
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return str(digest.hexdigest())


def sha256_file(path: Path) -> str:
    return _hash_file(path, hashlib.sha256())


# --- checksums recorded on first use --------------------------------------------------------


def load_pins(models_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((models_dir / PINS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_pin(models_dir: Path, file_name: str, sha256: str, size: int, source: str) -> None:
    pins = load_pins(models_dir)
    pins[file_name] = {
        "sha256": sha256,
        "size": size,
        "source": source,
        "recorded_at": _now(),
    }
    _write_json(models_dir / PINS, pins)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- unpacking ------------------------------------------------------------------------------


def member_path(info: zipfile.ZipInfo) -> PurePosixPath:
    """The entry's path inside the archive, refused when it could land outside the
    destination (absolute, drive letter, `..`, backslashes) or is not a plain file or
    directory (symlink, device, fifo) or is encrypted."""
    name = info.filename
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise ModelError(
            f"the archive's entry {name!r} has an absolute path", error_id="unsafe_zip"
        )
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ModelError(
            f"the archive's entry {name!r} leaves its directory", error_id="unsafe_zip"
        )
    if not parts:
        raise ModelError(
            f"the archive has an entry without a name: {name!r}", error_id="unsafe_zip"
        )
    kind = stat.S_IFMT(info.external_attr >> 16)
    if info.create_system == 3 and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        what = "a symbolic link" if kind == stat.S_IFLNK else "not a plain file"
        raise ModelError(f"the archive's entry {name!r} is {what}", error_id="unsafe_zip")
    if info.flag_bits & 0x1:
        raise ModelError(f"the archive's entry {name!r} is encrypted", error_id="unsafe_zip")
    return PurePosixPath(*parts)


def unpack(archive: Path, dest: Path, limits: Limits) -> int:
    """Unpack `archive` into the new directory `dest`; return the bytes written. Sizes are
    counted as written (an entry's header may lie), entries are created exclusively (no
    duplicates, never through a link) with plain permissions."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                raise ModelError(
                    f"the archive has {len(infos)} entries, more than the "
                    f"{limits.max_entries} allowed (CONTACT_MODELS_MAX_ENTRIES)",
                    error_id="too_large",
                )
            members = [(info, member_path(info)) for info in infos]
            declared = sum(info.file_size for info in infos)
            _check_unpacked(declared, limits)
            if shutil.disk_usage(dest.parent).free < declared:
                raise ModelError(
                    f"no space left to unpack {declared} bytes in {dest.parent}",
                    error_id="disk_full",
                )
            dest.mkdir()
            written = 0
            for info, rel in members:
                target = dest.joinpath(*rel.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                with zf.open(info) as src, os.fdopen(os.open(target, flags, 0o644), "wb") as out:
                    written = _copy_bounded(src, out, written, limits)
            return written
    except ModelError:
        raise
    except (FileExistsError, NotADirectoryError, IsADirectoryError):
        raise ModelError(
            f"{archive.name} has duplicate or conflicting entries", error_id="corrupt_zip"
        ) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
        raise ModelError(
            f"{archive.name} is not a valid zip archive ({exc})", error_id="corrupt_zip"
        ) from None


def _copy_bounded(src: IO[bytes], out: IO[bytes], written: int, limits: Limits) -> int:
    while chunk := src.read(CHUNK):
        written += len(chunk)
        _check_unpacked(written, limits)
        out.write(chunk)
    return written


def _check_unpacked(size: int, limits: Limits) -> None:
    if size > limits.max_unpacked_bytes:
        raise ModelError(
            f"the archive unpacks to more than {limits.max_unpacked_bytes} bytes "
            "(CONTACT_MODELS_MAX_UNPACKED_BYTES): refused as a possible zip bomb",
            error_id="too_large",
        )


def find_model_root(root: Path, max_depth: int = 3) -> Path:
    """The one Vosk model directory in an unpacked tree: `root` itself or the shallowest one
    below it (an archive usually holds `<name>/am …`)."""
    level = [root]
    for _ in range(max_depth + 1):
        found = [d for d in level if is_model_dir(d)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(sorted(str(d.relative_to(root)) for d in found))
            raise ModelError(f"several models inside ({names}); give one", error_id="no_model")
        level = sorted(
            child
            for d in level
            for child in d.iterdir()
            if child.is_dir() and not child.is_symlink()
        )
    raise ModelError(
        "no Vosk model inside (a directory with am/final.mdl, conf/ and graph/)",
        error_id="no_model",
    )


# --- placing --------------------------------------------------------------------------------


def _place(model: Path, models_dir: Path, language: str) -> str | None:
    """Rename the verified `model` to `<dir>/<language>`; the previous model is renamed aside
    first and put back if that fails. Returns the previous model's name (or None)."""
    target = models_dir / language
    previous: Path | None = None
    replaced: str | None = None
    if target.exists() or target.is_symlink():
        manifest = read_manifest(target)
        replaced = str(manifest.get("name")) if manifest else target.name
        previous = models_dir / f".previous-{language}-{secrets.token_hex(4)}"
        os.rename(target, previous)
    try:
        os.rename(model, target)
    except BaseException:
        if previous is not None:
            os.rename(previous, target)
        raise
    if previous is not None:
        _discard(previous)
    _fsync_dir(models_dir)
    return replaced


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _staging(models_dir: Path, language: str) -> Path:
    return models_dir / f".staging-{language}-{secrets.token_hex(4)}"


def install_archive(
    models_dir: Path,
    language: str,
    archive: Path,
    limits: Limits,
    *,
    source: str,
    sha256: str,
    name: str | None = None,
    pinned_now: bool = False,
) -> Installed:
    """Unpack a verified archive and put its model in place (call under `locked`)."""
    work = _staging(models_dir, language)
    work.mkdir()
    try:
        unpack(archive, work / "unpacked", limits)
        model = find_model_root(work / "unpacked")
        if name is None:
            name = model.name if model != work / "unpacked" else archive.name.removesuffix(".zip")
        size = archive.stat().st_size
        _write_manifest(model, language, name, source, sha256, size)
        replaced = _place(model, models_dir, language)
    finally:
        _discard(work)
    return Installed(language, name, models_dir / language, sha256, size, pinned_now, replaced)


def add_directory(models_dir: Path, language: str, source: Path) -> Installed:
    """Copy a model directory the user already has (or a directory holding one) into place.

    Copied, not symlinked: the models directory then holds everything the server loads (one
    volume to mount or back up), a manifest can be written beside the model, and moving or
    cleaning up the original (a download folder, a virtualenv) never breaks transcription."""
    model = find_model_root(source.resolve())
    work = _staging(models_dir, language)
    work.mkdir()
    try:
        copy = work / "model"
        shutil.copytree(model, copy, symlinks=False)
        size = sum(f.stat().st_size for f in copy.rglob("*") if f.is_file())
        _write_manifest(copy, language, model.name, str(source.resolve()), None, size)
        replaced = _place(copy, models_dir, language)
    except shutil.Error as exc:  # copytree gathers (src, dst, why) of every file it missed
        problems = [str(item[-1]) for item in exc.args[0]] if exc.args else [str(exc)]
        if any("No space left" in why or "quota" in why.lower() for why in problems):
            raise ModelError(
                f"no space left on the device while copying {source}", error_id="disk_full"
            ) from None
        raise ModelError(f"copying {source}: {problems[0]}", error_id="io_error") from None
    finally:
        _discard(work)
    return Installed(language, model.name, models_dir / language, None, size, False, replaced)


def _write_manifest(
    model: Path, language: str, name: str, source: str, sha256: str | None, size: int
) -> None:
    manifest = {
        "language": language,
        "name": name,
        "source": source,
        "sha256": sha256,
        "size": size,
        "installed_at": _now(),
    }
    _write_json(model / MANIFEST, manifest)


def remove(models_dir: Path, language: str) -> str:
    """Remove the model of `language`; returns its name."""
    target = models_dir / language
    if not target.exists() and not target.is_symlink():
        raise ModelError(f"no model is installed for {language}", error_id="not_installed")
    manifest = read_manifest(target)
    name = str(manifest.get("name")) if manifest else target.name
    aside = models_dir / f".staging-removed-{language}-{secrets.token_hex(4)}"
    os.rename(target, aside)  # gone for readers at once; the files go after
    _discard(aside)
    return name


# --- the two ways in ------------------------------------------------------------------------


def expected_sha256(models_dir: Path, file_name: str, given: str | None) -> tuple[str, str] | None:
    """The checksum an archive must have, and where that comes from: `--sha256`, the
    catalogue's pin, or the one recorded at the first install of that file; None if unknown."""
    if given:
        return given.lower(), "given with --sha256"
    for model in CATALOGUE.values():
        if model.file_name == file_name and model.sha256:
            return model.sha256, "pinned in the catalogue"
    pinned = load_pins(models_dir).get(file_name)
    if isinstance(pinned, dict) and isinstance(pinned.get("sha256"), str):
        when = pinned.get("recorded_at", "?")
        return pinned["sha256"], f"recorded in {PINS} at its first install ({when})"
    return None


def _verify(file_name: str, got: str, expected: tuple[str, str] | None) -> None:
    if expected is not None and got != expected[0]:
        raise ModelError(
            f"checksum mismatch for {file_name}: sha256 {got}, expected {expected[0]} "
            f"({expected[1]}); the file is damaged or not the official one, nothing was changed",
            error_id="checksum_mismatch",
        )


_REFUSED_ARCHIVE = ("corrupt_zip", "unsafe_zip", "too_large", "no_model", "checksum_mismatch")


def install_catalogued(
    models_dir: Path,
    model: CatalogueModel,
    base_url: str,
    limits: Limits,
    progress: Progress,
    *,
    sha256: str | None = None,
) -> Installed:
    """Download `model` from `base_url`, verify, unpack and place it (call under `locked`).
    An interrupted download stays in `.downloads/` and is resumed by the next run; a refused
    archive is deleted, so the next run downloads it afresh."""
    url = model.url(base_url)
    part = models_dir / DOWNLOADS / f"{model.file_name}.part"
    expected = expected_sha256(models_dir, model.file_name, sha256)
    got = download(url, part, max_bytes=model.max_bytes, progress=progress)
    try:
        _verify(model.file_name, got, expected)
        installed = install_archive(
            models_dir,
            model.language,
            part,
            limits,
            source=url,
            sha256=got,
            name=model.name,
            pinned_now=expected is None,
        )
    except ModelError as exc:
        if exc.error_id in _REFUSED_ARCHIVE:
            part.unlink(missing_ok=True)
        raise
    if expected is None:
        record_pin(models_dir, model.file_name, got, installed.size, url)
    part.unlink(missing_ok=True)
    return installed


def add_archive(
    models_dir: Path, language: str, archive: Path, limits: Limits, *, sha256: str | None = None
) -> Installed:
    """Verify and unpack a zip the user already has (call under `locked`). An official
    archive (a catalogue file name) is checked against its pin like a download."""
    got = sha256_file(archive)
    expected = expected_sha256(models_dir, archive.name, sha256)
    _verify(archive.name, got, expected)
    catalogued = any(m.file_name == archive.name for m in CATALOGUE.values())
    installed = install_archive(
        models_dir,
        language,
        archive,
        limits,
        source=str(archive.resolve()),
        sha256=got,
        pinned_now=catalogued and expected is None,
    )
    if catalogued and expected is None:
        record_pin(models_dir, archive.name, got, installed.size, str(archive.resolve()))
    return installed
