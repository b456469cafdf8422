"""The README's command list is the CLI's: every `contact` subcommand is on it."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

from contact.cli import _parser

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path
    for action in subs:
        for name, sub in action.choices.items():
            yield from _commands(sub, (*path, name))


def _listed() -> list[list[str]]:
    text = README.read_text()
    block = text.split("## Commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [re.findall(r"[a-z][a-z-]*", line.split("#", 1)[0]) for line in block.splitlines()]


def test_the_readme_lists_every_command() -> None:
    lines = _listed()
    commands = list(_commands(_parser(), ("contact",)))
    assert len(commands) > 30  # the walk found the plugins' commands too
    missing = [
        " ".join(command)
        for command in commands
        if not any(words[:2] == list(command[:2]) and set(command) <= set(words) for words in lines)
    ]
    assert not missing, f"README.md's Commands section lacks: {missing}"
