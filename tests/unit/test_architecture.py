"""The domain imports no SDK, and docs/events.md catalogues exactly the events in the code."""

import ast
import re
from pathlib import Path

from contact.domain.events import ALL_EVENTS

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = (
    "aiohttp",
    "aiogram",
    "panoramisk",
    "redis",
    "sqlmodel",
    "sqlalchemy",
    "vosk",
    "pydantic",
    "prometheus_client",
    "argon2",
    "asyncpg",
    "aiosqlite",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_domain_imports_no_sdk() -> None:
    files = list((ROOT / "contact" / "domain").rglob("*.py"))
    assert files
    for path in files:
        bad = _imports(path) & set(FORBIDDEN)
        assert not bad, f"{path.name} imports {bad}"


def test_no_module_creates_a_client_at_import_time() -> None:
    pattern = re.compile(r"^(\w+)\s*=\s*(redis|aioredis|aiohttp)\.\w+\(", re.M)
    for path in (ROOT / "contact").rglob("*.py"):
        assert not pattern.search(path.read_text()), path


def test_event_catalogue_matches_the_code() -> None:
    doc = (ROOT / "docs" / "events.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", doc, re.M))
    in_code = {e.name for e in ALL_EVENTS}
    assert documented == in_code


def test_event_names_are_dotted_and_past_tense_classes_are_unique() -> None:
    names = [e.name for e in ALL_EVENTS]
    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", name), name
