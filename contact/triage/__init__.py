"""Triage that reads Kazakh and Russian: one module for chat text, report text and transcript
segments alike (`Triage.analyse(text) -> Verdict`). The decision rules are pure and live in
contact/domain/triage.py; this package finds the words (lemmas, stems, one automaton) and keeps
the lexicon current (lexicon.py, the packaged lexicon.toml, edits from the database)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from contact.domain.triage import Verdict
from contact.triage.lexicon import Entry, packaged
from contact.triage.matcher import TextTriage
from contact.triage.russian import Lemmatiser

log = logging.getLogger(__name__)

__all__ = ["Entry", "Triage", "default_triage"]


class Triage:
    """The current lexicon, compiled. `use` swaps in a new one at once (an admin's edit, on
    this node or, through the broadcast, on another); `analyse` never waits for it."""

    def __init__(self, entries: Iterable[Entry] | None = None, *, version: int = 0) -> None:
        self._lemmatiser = Lemmatiser()
        self._matcher = TextTriage(packaged() if entries is None else entries, self._lemmatiser)
        self.version = version

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self._matcher.entries

    def analyse(self, text: str) -> Verdict:
        return self._matcher.analyse(text)

    def use(self, entries: Iterable[Entry], version: int) -> None:
        self._matcher = TextTriage(entries, self._lemmatiser)
        self.version = version
        log.info("triage lexicon version %s in use (%d entries)", version, len(self.entries))


_default: Triage | None = None
_lock = threading.Lock()


def default_triage() -> Triage:
    """One Triage on the packaged lexicon per process, for parsers and tests that read text
    outside a running server (the server's own is built by bootstrap and follows edits)."""
    global _default
    with _lock:
        if _default is None:
            _default = Triage()
        return _default
