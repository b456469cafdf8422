"""The import rules of the house, read from the AST of every module under contact/ (in the
spirit of Home Assistant's hassfest):

1. the kernel imports no feature, no shared library of features and no composition root;
2. a feature imports another feature only if its PLUGIN names it in `requires` (or `uses`);
3. a shared library of features imports no feature;
4. nothing but the composition root imports the composition root (bootstrap, plugins…);
5. no function-level `contact` import outside the composition root (an import belongs at
   the top of its module, where the graph can be read; a circle is broken by moving code).

Imports under `if TYPE_CHECKING:` count for 1–4 (they are dependencies too), not for 5.
A failure names every offending file:line. ALLOWED lists the known exceptions, each with why;
it may only shrink: an entry that no longer matches anything fails too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from contact.plugins import all_plugins

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "contact"

# where each plugin's feature lives (a plugin missing here fails the test)
FEATURES: dict[str, tuple[str, ...]] = {
    "app": ("contact.channels.app",),
    "kiosk": ("contact.channels.kiosk",),
    "alarm": ("contact.channels.alarm",),
    "camera": ("contact.channels.camera",),
    "devices": ("contact.channels.devices",),
    "telegram": ("contact.channels.telegram",),
    "whatsapp": ("contact.channels.whatsapp",),
    "dispatch": ("contact.dispatch",),
    "telephony": ("contact.telephony",),
    "transcribe": ("contact.transcribe",),
}
# code several features share, with no plugin of its own: any feature may import it; it
# imports only the kernel and other libraries
LIBRARIES: dict[str, tuple[str, ...]] = {
    "chat": (
        "contact.channels.chat",
        "contact.channels.chat_handler",
        "contact.channels.chat_intake",
        "contact.channels.inbox",
        "contact.channels.outbox",
    ),
    "registries": (
        "contact.channels.registry_import",
        "contact.channels.registry_cli",
    ),
    "simulate": ("contact.simulate",),
}
# the code that knows every feature and builds the center from them
COMPOSITION_ROOT = (
    "contact.__main__",
    "contact.bootstrap",
    "contact.cli",
    "contact.demo",
    "contact.demo_voice",
    "contact.plugins",
    "contact.schema",  # every table, dispatch's included, for Alembic and the schema test
    "contact.persistence.migrations.env",  # Alembic's entry: it needs every table (schema)
)
# everything else under contact/ is the kernel: domain, errors, config, context, bus,
# broadcast, routing, core persistence, the HTTP kernel, i18n, metrics, logs, triage …

# Known exceptions: (rule, file, imported module prefix) → why. Each is being removed; the
# list may only shrink (test_the_allow_list_has_no_stale_entry).
ALLOWED: dict[tuple[str, str, str], str] = {
    ("function", "contact/dispatch/camera_table.py", "contact.dispatch.cameras"): (
        "scipy's spatial index is imported only when a camera table is built"
    ),
    # --- heavy SDKs paid only when the plugin is on (aiogram takes seconds to import)
    ("function", "contact/channels/telegram/__init__.py", "contact."): (
        "the Telegram channel's parts import aiogram: only when the channel is installed"
    ),
    ("function", "contact/telephony/__init__.py", "contact.telephony"): (
        "telephony's AMI client and parsers (~0.4 s), imported only when telephony is switched on"
    ),
    ("function", "contact/transcribe/__init__.py", "contact."): (
        "Vosk and the AudioSocket server, imported when the plugin is installed"
    ),
}


@dataclass(frozen=True)
class Import:
    file: str  # contact/x/y.py
    line: int
    module: str  # the importing module, dotted
    target: str  # the imported module, dotted
    in_function: bool
    type_only: bool


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_of(module: str, path: Path) -> Iterator[Import]:
    file = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name

    def target(name: str, member: str | None) -> str:
        if member is not None and f"{name}.{member}" in MODULES:
            return f"{name}.{member}"  # `from contact.dispatch import routes`
        return name

    def walk(nodes: list[ast.stmt], in_function: bool, type_only: bool) -> Iterator[Import]:
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("contact"):
                        yield Import(file, node.lineno, module, alias.name, in_function, type_only)
            elif isinstance(node, ast.ImportFrom):
                if node.level or not node.module or not node.module.startswith("contact"):
                    continue
                for alias in node.names:
                    yield Import(
                        file,
                        node.lineno,
                        module,
                        target(node.module, alias.name),
                        in_function,
                        type_only,
                    )
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.body, in_function, True)
                yield from walk(node.orelse, in_function, type_only)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from walk(list(ast.iter_child_nodes(node)), True, type_only)  # type: ignore[arg-type]
            else:
                children = [c for c in ast.iter_child_nodes(node) if isinstance(c, ast.stmt)]
                yield from walk(children, in_function, type_only)

    yield from walk(ast.parse(path.read_text()).body, False, False)


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def feature_of(module: str) -> str | None:
    return next((name for name, where in FEATURES.items() if _under(module, where)), None)


def library_of(module: str) -> str | None:
    return next((name for name, where in LIBRARIES.items() if _under(module, where)), None)


def is_root(module: str) -> bool:
    return _under(module, COMPOSITION_ROOT)


def is_kernel(module: str) -> bool:
    return not (is_root(module) or feature_of(module) or library_of(module))


@dataclass(frozen=True)
class Violation:
    rule: str  # kernel | feature | library | root | function
    imp: Import
    why: str

    def __str__(self) -> str:
        return f"{self.imp.file}:{self.imp.line}: {self.why} ({self.imp.target})"


def violations() -> list[Violation]:
    plugins = {p.name: p for p in all_plugins()}
    found: list[Violation] = []
    for module, path in MODULES.items():
        for imp in _imports_of(module, path):
            target = imp.target
            if is_root(target) and not is_root(module):
                found.append(Violation("root", imp, "imports the composition root"))
            if imp.in_function and not imp.type_only and not is_root(module):
                found.append(Violation("function", imp, "imports contact inside a function"))
            if is_root(module) or is_root(target):
                continue
            if is_kernel(module):
                if not is_kernel(target):
                    what = "feature" if feature_of(target) else "shared library"
                    found.append(Violation("kernel", imp, f"the kernel imports a {what}"))
                continue
            mine, theirs = feature_of(module), feature_of(target)
            if library_of(module) is not None and theirs is not None:
                found.append(Violation("library", imp, f"a shared library imports {theirs}"))
            elif mine is not None and theirs is not None and mine != theirs:
                declared = plugins[mine].requires + plugins[mine].uses
                if theirs not in declared:
                    found.append(
                        Violation(
                            "feature",
                            imp,
                            f"{mine} imports {theirs} without naming it in its PLUGIN's requires",
                        )
                    )
    return found


def _allowed(v: Violation, key: tuple[str, str, str]) -> bool:
    rule, file, prefix = key
    return v.rule == rule and v.imp.file == file and v.imp.target.startswith(prefix)


def test_every_plugin_has_a_known_home() -> None:
    assert {p.name for p in all_plugins()} == set(FEATURES)


def test_the_import_rules_hold() -> None:
    bad = [v for v in violations() if not any(_allowed(v, key) for key in ALLOWED)]
    assert not bad, "import rules broken:\n" + "\n".join(map(str, bad))


def test_the_allow_list_has_no_stale_entry() -> None:
    found = violations()
    stale = [key for key in ALLOWED if not any(_allowed(v, key) for v in found)]
    assert not stale, "allowed but no longer needed (remove them):\n" + "\n".join(
        f"{rule} {file} {prefix}" for rule, file, prefix in stale
    )


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The reader sees top-level, TYPE_CHECKING and function-level imports for what they are."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from contact.dispatch import model\n"
        "import contact.bootstrap\n"
        "if TYPE_CHECKING:\n"
        "    from contact.telephony.service import Telephony\n"
        "def f() -> None:\n"
        "    from contact.channels.chat import CHAT_PART\n"
    )
    found = [(i.line, i.target, i.in_function, i.type_only) for i in _imports_of("x", source)]
    assert found == [
        (2, "contact.dispatch.model", False, False),
        (3, "contact.bootstrap", False, False),
        (5, "contact.telephony.service", False, True),
        (7, "contact.channels.chat", True, False),
    ]
    assert feature_of("contact.dispatch.model") == "dispatch"
    assert feature_of("contact.channels.chat") is None
    assert library_of("contact.channels.chat") == "chat"
    assert library_of("contact.channels.chat_handler") == "chat"
    assert is_kernel("contact.http.app") and is_kernel("contact.context")
    assert is_root("contact.bootstrap") and not is_kernel("contact.plugins")
