"""`contact triage lexicon list|add|remove|import` on a real SQLite file, as an admin runs it:
validated, audited as "cli", and what a server reads at its next version check."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from contact.cli import main
from contact.config import DatabaseSettings
from contact.persistence.database import SqlDatabase


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["triage", "lexicon", *args])
    out, err = capsys.readouterr()
    return code, out, err


async def _stored(url: str) -> tuple[int, list[str], list[str]]:
    db = await SqlDatabase.open(DatabaseSettings(url=url))
    try:
        version, entries = await db.triage_lexicon.load()
        actions = [e.action for e in await db.audit.entries(subject="triage_lexicon")]
        assert await db.audit.verify() == []
        return version, [e.term for e in entries or []], actions
    finally:
        await db.close()


def test_the_lexicon_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/c.db"
    monkeypatch.setenv("CONTACT_DATABASE_URL", url)
    monkeypatch.setenv("CONTACT_DATA_DIR", str(tmp_path))
    code, out, _ = run(capsys, "list", "--category", "weapon", "--lang", "kk")
    assert code == 0 and "version 0 (packaged)" in out and "мылтық" in out
    code, out, _ = run(capsys, "add", "Арбалетом", "--lang", "ru", "--category", "weapon")
    assert code == 0 and "(v1)" in out
    code, _, err = run(
        capsys, "add", "нож", "--lang", "ru", "--category", "weapon", "--weight", "9"
    )
    assert code == 1 and "weight" in err
    code, _, err = run(capsys, "remove", "арбалетик", "--lang", "ru", "--category", "weapon")
    assert code == 1 and "no such lexicon entry" in err
    code, out, _ = run(capsys, "remove", "арбалетом", "--lang", "ru", "--category", "weapon")
    assert code == 0 and "(v2)" in out
    code, toml, _ = run(capsys, "list", "--toml", "--category", "fire")
    (tmp_path / "fire.toml").write_text(toml)
    (tmp_path / "bad.toml").write_text('[fire.ru]\n"пожар" = 5\n')
    code, _, err = run(capsys, "import", str(tmp_path / "bad.toml"))
    assert code == 1 and "weight" in err
    code, out, _ = run(capsys, "import", str(tmp_path / "fire.toml"))
    assert code == 0 and "(v3)" in out
    version, terms, actions = asyncio.run(_stored(url))
    assert version == 3 and "пожар" in terms and "нож" not in terms
    assert actions.count("triage.lexicon_add") == 1
    assert actions.count("triage.lexicon_remove") == 1
    assert actions.count("triage.lexicon_replace") == 1
