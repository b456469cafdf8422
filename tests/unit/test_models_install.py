"""The model manager's refusals and recoveries, in process: unsafe zip entries, zip bombs,
corrupt archives, archives without a model, a full disk, a busy directory, and an install
killed between its two renames. (The CLI as a user runs it: tests/integration/test_models_cli.)"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from contact.cli import main
from contact.transcribe import install
from contact.transcribe.catalogue import CATALOGUE
from contact.transcribe.install import Limits, ModelError, find_model_root, locked, unpack
from contact.transcribe.models import find_model, is_model_dir, statuses
from tests.models_support import Site, make_model_dir, model_zip, serve, symlink_zip

LIMITS = Limits(max_unpacked_bytes=10_000_000, max_entries=100)


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("CONTACT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CONTACT_MODELS_DIR", str(tmp_path / "models"))
    return tmp_path / "models"


def write_zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def refused(archive: Path, dest: Path, limits: Limits = LIMITS) -> ModelError:
    with pytest.raises(ModelError) as caught:
        unpack(archive, dest, limits)
    return caught.value


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("/etc/cron.d/evil", "absolute path"),
        ("C:/Windows/evil", "absolute path"),
        ("model\\..\\..\\evil", "absolute path"),
        ("model/../../evil", "leaves its directory"),
        ("../evil", "leaves its directory"),
    ],
)
def test_entries_that_escape_are_refused(tmp_path: Path, name: str, why: str) -> None:
    archive = write_zip(tmp_path / "a.zip", [("model/am/final.mdl", b"x"), (name, b"owned")])
    error = refused(archive, tmp_path / "out")
    assert error.error_id == "unsafe_zip" and why in error.message
    assert not (tmp_path / "out").exists()  # checked before anything is written
    assert not list(tmp_path.rglob("evil"))


def test_links_devices_and_encrypted_entries_are_refused(tmp_path: Path) -> None:
    (tmp_path / "link.zip").write_bytes(symlink_zip("m"))
    assert "symbolic link" in refused(tmp_path / "link.zip", tmp_path / "o1").message
    fifo = zipfile.ZipInfo("m/fifo")
    fifo.create_system = 3
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    archive = write_zip(tmp_path / "fifo.zip", [(fifo, b"")])
    assert "not a plain file" in refused(archive, tmp_path / "o2").message
    data = bytearray((tmp_path / "link.zip").read_bytes())
    for signature, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # the encrypted bit
        start = data.index(signature)
        data[start + at] |= 0x1
    archive = tmp_path / "enc.zip"
    archive.write_bytes(bytes(data))
    assert "encrypted" in refused(archive, tmp_path / "o3").message


def test_zip_bombs_are_refused_by_size_and_by_entry_count(tmp_path: Path) -> None:
    zeros = write_zip(tmp_path / "zeros.zip", [("m/zeros", bytes(20_000_000))])
    assert zeros.stat().st_size < 100_000
    error = refused(zeros, tmp_path / "o1")
    assert error.error_id == "too_large" and "zip bomb" in error.message
    many = write_zip(tmp_path / "many.zip", [(f"m/{i}", b"") for i in range(101)])
    error = refused(many, tmp_path / "o2")
    assert error.error_id == "too_large" and "101 entries" in error.message


def test_entries_whose_headers_understate_their_size_are_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sizes are counted as written: a total over the bound stops the unpacking."""
    archive = write_zip(tmp_path / "a.zip", [(f"m/{i}", bytes(3_000_000)) for i in range(3)])
    small = Limits(max_unpacked_bytes=7_000_000, max_entries=100)
    original = install._check_unpacked
    calls: list[int] = []

    def lenient_first(size: int, limits: Limits) -> None:  # the declared total "passes"
        calls.append(size)
        if len(calls) > 1:
            original(size, limits)

    monkeypatch.setattr(install, "_check_unpacked", lenient_first)
    error = refused(archive, tmp_path / "out", small)
    assert error.error_id == "too_large" and max(calls) > 7_000_000


def test_corrupt_archives(tmp_path: Path) -> None:
    good = model_zip("m")
    (tmp_path / "cut.zip").write_bytes(good[: len(good) // 2])
    assert refused(tmp_path / "cut.zip", tmp_path / "o1").error_id == "corrupt_zip"
    flipped = bytearray(good)
    flipped[150:300] = b"\x00" * 150
    (tmp_path / "crc.zip").write_bytes(bytes(flipped))
    assert refused(tmp_path / "crc.zip", tmp_path / "o2").error_id == "corrupt_zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("m/a", b"1")
        zf.writestr("m/a", b"2")  # a duplicate: the second would overwrite the first
    (tmp_path / "dup.zip").write_bytes(buffer.getvalue())
    error = refused(tmp_path / "dup.zip", tmp_path / "o3")
    assert error.error_id == "corrupt_zip" and "duplicate" in error.message


def test_the_model_directory_is_found_inside(tmp_path: Path) -> None:
    nested = make_model_dir(tmp_path / "a" / "pkg" / "model")
    assert find_model_root(tmp_path / "a") == nested
    assert is_model_dir(nested) and not is_model_dir(tmp_path / "a")
    make_model_dir(tmp_path / "b" / "one")
    make_model_dir(tmp_path / "b" / "two")
    with pytest.raises(ModelError, match="several models inside"):
        find_model_root(tmp_path / "b")
    (tmp_path / "c" / "conf").mkdir(parents=True)
    with pytest.raises(ModelError, match="no Vosk model inside"):
        find_model_root(tmp_path / "c")


def test_add_refusals_keep_the_installed_model(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_model_dir(tmp_path / "kept-model", "kept")
    assert main(["models", "add", "ru", str(source)]) == 0
    (tmp_path / "notes" / "conf").mkdir(parents=True)
    empty = write_zip(tmp_path / "empty.zip", [("readme.txt", b"nothing")])
    not_zip = tmp_path / "not.zip"
    not_zip.write_text("not a zip")
    capsys.readouterr()
    assert main(["models", "add", "ru", str(tmp_path / "notes")]) == 4
    assert main(["models", "add", "ru", str(empty)]) == 4
    assert main(["models", "add", "ru", str(not_zip)]) == 4
    assert main(["models", "add", "ru", str(tmp_path / "nowhere")]) == 2
    assert main(["models", "add", "en", str(source)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "contact models add: no Vosk model inside (a directory with am/final.mdl, conf/ and "
        "graph/)",
        "contact models add: no Vosk model inside (a directory with am/final.mdl, conf/ and "
        "graph/)",
        "contact models add: not.zip is not a valid zip archive (File is not a zip file)",
        f"contact models add: {tmp_path / 'nowhere'} does not exist",
        "contact models add: unknown language 'en': contact has models for kk, ru",
    ]
    assert (models / "ru" / "marker.txt").read_text() == "kept"
    assert sorted(p.name for p in models.iterdir()) == [".lock", "ru"]


def test_a_full_disk_is_one_line_and_keeps_the_installed_model(
    models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["models", "add", "kk", str(make_model_dir(tmp_path / "old", "old"))]) == 0
    archive = tmp_path / "new.zip"
    archive.write_bytes(model_zip("new", "new"))

    def full(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(install, "_copy_bounded", full)
    capsys.readouterr()
    assert main(["models", "add", "kk", str(archive)]) == 5
    assert capsys.readouterr().err == (
        "contact models add: no space left on the device while writing the models directory\n"
    )
    assert (models / "kk" / "marker.txt").read_text() == "old"
    assert not list(models.glob(".staging-*"))


def test_one_change_at_a_time(
    models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with locked(models):
        assert main(["models", "remove", "ru"]) == 6
    assert "another `contact models` command is working on" in capsys.readouterr().err
    assert main(["models", "remove", "ru"]) == 1


def test_an_install_killed_between_its_renames_is_repaired(models: Path, tmp_path: Path) -> None:
    """The old model renamed aside, the new one not yet in place: the next command puts the
    old one back (and throws away a half-unpacked staging directory)."""
    make_model_dir(models / ".previous-ru-0a1b2c3d", "old")
    (models / ".staging-ru-deadbeef" / "unpacked").mkdir(parents=True)
    assert find_model(models, "ru") is None
    with locked(models):
        pass
    assert (models / "ru" / "marker.txt").read_text() == "old"
    assert sorted(p.name for p in models.iterdir()) == [".lock", "ru"]
    assert [s.installed for s in statuses(models)] == [False, True]


def test_list_as_json_and_off(
    models: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "list", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["missing"] == ["kk", "ru"] and not any(m["installed"] for m in out["models"])
    monkeypatch.setenv("CONTACT_TRANSCRIBE_ENABLED", "false")
    assert main(["models", "list"]) == 0
    assert "transcription is off" in capsys.readouterr().err


def test_the_catalogue_is_honest() -> None:
    """Official names, the Vosk URL layout, and no checksum claimed without a download."""
    assert CATALOGUE["ru"].name == "vosk-model-small-ru-0.22"
    assert CATALOGUE["kk"].name == "vosk-model-small-kz-0.42"
    assert CATALOGUE["kk"].url("https://alphacephei.com/vosk/models/") == (
        "https://alphacephei.com/vosk/models/vosk-model-small-kz-0.42.zip"
    )
    for model in CATALOGUE.values():
        assert model.sha256 is None or len(model.sha256) == 64
        assert model.approx_bytes < model.max_bytes


def test_downloads_resume_finish_and_stay_bounded(tmp_path: Path) -> None:
    data = os.urandom(250_000)
    digest = hashlib.sha256(data).hexdigest()
    part = tmp_path / "dl" / "m.zip.part"
    with serve(Site({"m.zip": data})) as site:
        url = f"{site.url}/m.zip"
        part.parent.mkdir()
        part.write_bytes(data[:1000])
        assert install.download(url, part, max_bytes=10**6, progress=install.NoProgress()) == digest
        assert part.read_bytes() == data and site.ranges == ["bytes=1000-"]
        # everything was there already: the server answers 416 and nothing is fetched again
        assert install.download(url, part, max_bytes=10**6, progress=install.NoProgress()) == digest
        part.unlink()
        with pytest.raises(ModelError, match="more than the 100000 bytes") as caught:
            install.download(url, part, max_bytes=100_000, progress=install.NoProgress())
        assert caught.value.error_id == "too_large" and not part.exists()


def test_a_checksum_must_look_like_one(models: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "install", "ru", "--sha256", "abc"]) == 2
    assert "--sha256 needs 64 hexadecimal digits" in capsys.readouterr().err
    assert not models.exists()


def test_a_full_disk_while_copying_a_directory(
    models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = make_model_dir(tmp_path / "big-model")

    def full(src: object, dst: object, **kw: object) -> None:
        raise shutil.Error([(str(src), str(dst), "[Errno 28] No space left on device")])

    monkeypatch.setattr(shutil, "copytree", full)
    assert main(["models", "add", "ru", str(source)]) == 5
    assert capsys.readouterr().err == (
        f"contact models add: no space left on the device while copying {source}\n"
    )
    assert find_model(models, "ru") is None and not list(models.glob(".staging-*"))
