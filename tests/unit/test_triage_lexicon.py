"""The lexicon editor's rules without a database: entries are validated and normalised, the
TOML format round-trips, the packaged lexicon is valid, and an edit that loses a race with
another admin's is applied on top of theirs (never lost, never applied twice)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pytest

from contact.domain.triage import Category
from contact.errors import Conflict, NotFound, Unprocessable
from contact.triage import Triage
from contact.triage.editor import LexiconEditor
from contact.triage.lexicon import Entry, entry, from_json, from_toml, packaged, to_toml


def test_entries_are_normalised() -> None:
    e = entry("  Пистолетом  ", "ru", "weapon", 1)
    assert e == Entry("пистолетом", "ru", Category.WEAPON, 1.0)
    assert entry("Ёлка", "ru", "fire", 0.5).term == "елка"
    assert entry("ес   тан", "kk", "injured", 1).term == "ес тан"
    assert entry("myltyq", "kk", "weapon", 1).term == "мылтык"  # Latin-script Kazakh
    assert entry("Батыс-2", "kk", "weapon", 1).term == "батыс"  # letters only


@pytest.mark.parametrize(
    ("args", "error_id"),
    [
        (("нож", "en", "weapon", 1), "unknown_language"),
        (("нож", "ru", "knives", 1), "unknown_category"),
        (("нож", "ru", "weapon", 0), "invalid_weight"),
        (("нож", "ru", "weapon", 3.5), "invalid_weight"),
        (("нож", "ru", "weapon", float("nan")), "invalid_weight"),
        (("нож", "ru", "weapon", True), "invalid_weight"),
        (("нож", "ru", "weapon", "1"), "invalid_weight"),
        (("", "ru", "weapon", 1), "empty_term"),
        (("123 !!", "ru", "weapon", 1), "empty_term"),
        (("а б в г д", "ru", "weapon", 1), "term_too_long"),
        (("ж" * 65, "ru", "weapon", 1), "term_too_long"),
        ((None, "ru", "weapon", 1), "invalid_entry"),
    ],
)
def test_invalid_entries_are_refused(args: tuple[Any, ...], error_id: str) -> None:
    with pytest.raises(Unprocessable) as raised:
        entry(*args)
    assert raised.value.error_id == error_id


def test_toml_round_trips_and_duplicates_keep_the_last() -> None:
    entries = packaged()
    assert from_toml(to_toml(entries)) == entries
    twice = from_json(
        [
            {"term": "нож", "lang": "ru", "category": "weapon", "weight": 1},
            {"term": "Нож", "lang": "ru", "category": "weapon", "weight": 2},
        ]
    )
    assert twice == [Entry("нож", "ru", Category.WEAPON, 2.0)]
    with pytest.raises(Unprocessable):
        from_toml("weapon = 1")
    with pytest.raises(Unprocessable):
        from_toml("[weapon\\n")


def test_the_packaged_lexicon_is_valid_and_covers_every_category_in_both_languages() -> None:
    entries = packaged()
    assert len(entries) > 250
    for category in Category:
        assert {e.lang for e in entries if e.category is category} == {"ru", "kk"}, category


class FakeStore:
    """The SqlTriageLexicon contract in memory; `racing` edits land first once."""

    def __init__(self) -> None:
        self.stored = 0
        self.entries: list[Entry] | None = None
        self.racing: list[Entry] | None = None

    async def version(self) -> int:
        return self.stored

    async def load(self) -> tuple[int, list[Entry] | None]:
        return self.stored, None if self.entries is None else list(self.entries)

    async def save(
        self, entries: Iterable[Entry], *, expected: int, by: str, at: datetime
    ) -> int | None:
        if self.racing is not None:  # another admin saves between our read and our write
            self.entries, self.racing = self.racing, None
            self.stored += 1
        if expected != self.stored:
            return None
        self.entries = list(entries)
        self.stored += 1
        return self.stored


class FakeAudit:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str | None, Mapping[str, Any]]] = []

    async def append(
        self, actor: str, action: str, subject: str | None = None, details: Any = None
    ) -> None:
        self.rows.append((actor, action, subject, dict(details or {})))


def editor() -> tuple[LexiconEditor, FakeStore, FakeAudit, Triage]:
    store, audit, triage = FakeStore(), FakeAudit(), Triage([])
    return LexiconEditor(triage=triage, store=store, audit=audit), store, audit, triage  # type: ignore[arg-type]


async def test_an_edit_is_stored_audited_and_in_use() -> None:
    edit, store, audit, triage = editor()
    crossbow = entry("арбалет", "ru", "weapon", 1)
    assert not triage.analyse("у него арбалет").alarming
    assert await edit.add([crossbow], "admin-1") == 1
    assert triage.version == 1 and triage.analyse("у него арбалетом").alarming
    assert store.entries is not None and crossbow in store.entries
    assert len(store.entries) == len(packaged()) + 1  # the first edit starts from the packaged
    actor, action, subject, details = audit.rows[-1]
    assert (actor, action, subject) == ("admin-1", "triage.lexicon_add", "triage_lexicon")
    assert details["version"] == 1 and details["entries"][0]["term"] == "арбалет"


async def test_an_edit_that_loses_a_race_is_applied_on_top_of_the_winner() -> None:
    edit, store, _, triage = editor()
    theirs = [entry("пожар", "ru", "fire", 1)]
    store.racing = theirs
    await edit.add([entry("нож", "ru", "weapon", 1)], "admin-1")
    assert store.stored == 2 and store.entries is not None
    assert {e.term for e in store.entries} == {"пожар", "нож"}
    assert triage.version == 2


async def test_removing_what_is_not_there_changes_nothing() -> None:
    edit, store, audit, _ = editor()
    with pytest.raises(NotFound):
        await edit.remove([("ru", "weapon", "арбалет")], "admin-1")
    assert store.stored == 0 and audit.rows == []


async def test_refresh_follows_the_stored_version() -> None:
    edit, store, _, triage = editor()
    store.entries, store.stored = [entry("взрыв", "ru", "explosion", 1)], 7
    assert await edit.refresh() and triage.version == 7
    assert triage.analyse("был взрыв").alarming
    assert not await edit.refresh()


async def test_a_store_that_keeps_losing_says_so() -> None:
    edit, store, _, _ = editor()

    async def never(*_a: Any, **_k: Any) -> None:
        return None

    store.save = never  # type: ignore[method-assign]
    with pytest.raises(Conflict):
        await edit.replace([], "admin-1")
